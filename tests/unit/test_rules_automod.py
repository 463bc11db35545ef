"""What Discord's AutoMod may mirror of the policy (rules.automod): a pure decision."""

from __future__ import annotations

from bridge.config import parse_settings
from rules.automod import EMAIL, automod_specs


def test_automod_specs_carry_the_contacts_anyone_may_post() -> None:
    policy = parse_settings(
        "[[rules]]\nid = 'contacts'\nkind = 'pii'\nrole_addresses = 'count'\n"
        "allow = ['@lists.openinfra.dev', 'kamau@example.org', '0708 374149']\n"
    ).policy
    (spec,) = automod_specs(policy)
    assert spec.allow == ("*@lists.openinfra.dev", "kamau@example.org")
    # Discord's allow list cannot follow "0708 374149" with its space: with a number
    # allowed, phone numbers are left to the engine, e-mail addresses are still mirrored.
    assert spec.regexes == (EMAIL,)


def test_automod_leaves_email_to_the_engine_while_role_addresses_are_allowed() -> None:
    """AutoMod cannot tell info@ at an organisation from info@ at a free mail provider."""
    policy = parse_settings("[[rules]]\nid = 'contacts'\nkind = 'pii'\n").policy
    (spec,) = automod_specs(policy)
    assert EMAIL not in spec.regexes
    assert spec.regexes  # phone numbers are still mirrored
    emails_only = parse_settings(
        "[[rules]]\nid = 'contacts'\nkind = 'pii'\nphones = false\nhandles = false\n"
    ).policy
    assert automod_specs(emails_only) == []  # nothing left for AutoMod to match


def test_only_rules_that_delete_are_mirrored_and_not_ones_about_own_contacts() -> None:
    """Blocking is deleting before anyone sees it: a notify-only rule must not block, and
    AutoMod cannot tell a member's own number from someone else's."""
    policy = parse_settings(
        "[[rules]]\nid = 'veiled'\nkind = 'keywords'\nwords = ['watch your back']\n"
        "actions = ['notify']\n"
        "[[rules]]\nid = 'others'\nkind = 'pii'\nown_contacts = 'exclude'\n"
        "[[rules]]\nid = 'slurs'\nkind = 'keywords'\nwords = ['badword']\n"
    ).policy
    assert [spec.name for spec in automod_specs(policy)] == ["slurs"]


def test_automod_specs_carry_the_policys_exemptions() -> None:
    policy = parse_settings(
        """
        [[rules]]
        id = "slurs"
        kind = "keywords"
        words = ["badword"]
        exempt_roles = ["222222222222222222"]
        exempt_channels = ["333333333333333333", "!room:hs"]

        [[rules]]
        id = "doxxing"
        kind = "pii"
        exempt_moderators = false
        """
    ).policy
    slurs, doxxing = automod_specs(policy, moderator_roles=(111111111111111111,))
    assert slurs.exempt_roles == (222222222222222222, 111111111111111111)
    assert slurs.exempt_channels == (333333333333333333,)  # Matrix rooms do not apply
    assert doxxing.exempt_roles == ()  # moderators are not exempt from this one

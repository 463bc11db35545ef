"""What members say to the bot in direct messages: reports, DM consent, account links.

A report is a short guided conversation (what, who, where, evidence, may we name you),
kept in the database between messages so a restart loses nothing; ``cancel`` stops it at
any step, and a first message that already says what happened and who goes straight
through. Answers come from the configurable texts.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bridge.linking import Linking
from bridge.mydata import MY_DATA, describe
from bridge.reports import Report, Reports
from bridge.texts import Texts
from domain.model import Account, Message, Platform
from domain.ports import MessageFetcher
from domain.records import DmPolicy
from domain.storage_ports import Conversations
from domain.userids import (
    bare,
    find_accounts,
    parse_account,
    strip_reply_fallback,
    without_accounts,
)

DRAFT_TTL = timedelta(hours=1)
DRAFT_PREFIX = "report.draft:"  # kv keys of report conversations in progress
STEPS = ("what", "who", "where", "evidence", "share")
_LINK = re.compile(r"https?://\S+")
_NO = {"no", "n", "nope", "none", "-", "hapana"}
_YES = {"yes", "y", "ok", "sure", "ndiyo"}
MAX_TEXT = 4000  # characters of a direct message that are read
PACE_LIMIT = 20  # direct messages per member per PACE_WINDOW; more are not read
PACE_WINDOW = timedelta(minutes=1)
MAX_LINKS = 5  # message links read per message


class DirectMessages:
    """Answers a member's direct message to the bot."""

    def __init__(
        self,
        *,
        repos: Conversations,
        reports: Reports,
        linking: Linking,
        texts: Texts,
        fetchers: Mapping[Platform, MessageFetcher],
        clock: Callable[[], datetime],
        retention_days: int = 180,
    ) -> None:
        self._retention_days = retention_days  # said in the answer to `my data`
        self._repos = repos
        self._reports = reports
        self._linking = linking
        self._texts = texts
        self._fetchers = fetchers
        self._fetched: dict[str, Message | None] = {}  # links read for the current answer
        self._clock = clock
        self._pace: dict[str, deque[datetime]] = {}  # account -> its recent messages

    def pace(self, account: Account) -> str | None:
        """None to go on with a member's message; else too many in a minute: the text to
        answer once ("" for the rest, which get no answer). Nothing a member sends can make
        the bot write to the database or read links faster than this."""
        now = self._clock()
        recent = self._pace.setdefault(account.key, deque())
        while recent and now - recent[0] > PACE_WINDOW:
            recent.popleft()
        recent.append(now)
        if len(self._pace) > 10_000:  # forget members who went quiet
            for key in [k for k, v in self._pace.items() if now - v[-1] > PACE_WINDOW]:
                del self._pace[key]
        if len(recent) <= PACE_LIMIT:
            return None
        return self._texts.too_fast if len(recent) == PACE_LIMIT + 1 else ""

    async def answer(self, message: Message) -> str:
        """The bot's answer to ``message`` (a direct message from a member)."""
        if not message.is_dm:
            # A group chat with the bot in it: reports and link codes are not for everyone
            # there to read, so nothing is taken and nothing is said but where to write.
            return self._texts.private_only
        author = message.author
        # A report is a few sentences: a huge message costs storage and link reads, not more
        # information (each link read can take seconds, and DMs are answered in turn).
        # A reply fallback quotes someone (maybe the reporter): it is not what they say now.
        text = strip_reply_fallback(message.text).strip()[:MAX_TEXT]
        self._fetched.clear()
        if message.attachments and not text:
            # A screenshot: it cannot be kept (nor read), and must not pass for an answer.
            return self._texts.report_no_files
        word = text.split(maxsplit=1)[0].lower() if text else ""
        if " ".join(text.lower().split()) == MY_DATA:
            holdings = await self._repos.privacy.holdings(author.account)
            return describe(holdings, self._retention_days)
        linked = await self._linking.handle(author, text)
        if linked is not None:
            return linked
        if word == "dm":
            return await self._consent(author.account, text)
        draft = await self._draft(author.account)
        if word == "cancel":
            await self._repos.kv.delete(self._key(author.account))
            return self._texts.report_cancelled if draft else self._texts.dm_help
        if draft is None and word in ("help", "?", ""):
            return self._texts.dm_help
        if draft is None:
            if await self._reports.too_many(author.account):
                return self._texts.report_too_many
            return await self._start(message, text)
        return await self._advance(message, draft, text)

    # -- the report conversation ------------------------------------------------------------

    async def _start(self, message: Message, text: str) -> str:
        body = text[len("report") :].strip() if text.lower().startswith("report") else text
        # The reporter's accounts, once: never the reported member, their messages no evidence.
        mine = await self._own_accounts(message.author.account)
        who = await self._who(body, mine, message.mentions)
        if who is not None and len(without_accounts(body).strip()) >= 15:
            # Everything in one message: straight through, anonymously.
            opened = await self._reports.submit(
                Report(
                    reporter=message.author.account,
                    subject=who,
                    what=await self._without_own_links(body[:1000], mine),
                    evidence=tuple(await self._evidence(body, mine)),
                    unsolicited_dm=_mentions_dm(body),
                    origin=f"{message.platform.value}:{message.id}",
                )
            )
            return self._texts.report_received_anonymous.format(case=opened.case.id)
        draft: dict[str, object] = {"step": "what", "started": self._clock().isoformat()}
        if len(body) >= 15:
            draft.update(what=body, step="who")
            await self._save(message.author.account, draft)
            return self._texts.report_ask_who
        await self._save(message.author.account, draft)
        return self._texts.report_start

    async def _advance(self, message: Message, draft: dict[str, object], text: str) -> str:
        account = message.author.account
        step = str(draft["step"])
        if step == "what":
            draft.update(what=text[:1000], step="who")
            reply = self._texts.report_ask_who
        elif step == "who":
            who = await self._who(text, await self._own_accounts(account), message.mentions)
            if who is None:
                return self._texts.report_who_unclear
            draft.update(who=who.key, step="where")
            reply = self._texts.report_ask_where
        elif step == "where":
            draft.update(where=text[:300], step="evidence")
            reply = self._texts.report_ask_evidence
        elif step == "evidence":
            mine = await self._own_accounts(account)
            evidence = [] if text.lower() in _NO else await self._evidence(text, mine)
            draft.update(evidence=evidence, step="share")
            reply = self._texts.report_ask_share
        else:
            share = text.lower().split()[0] in _YES if text else False
            mine = await self._own_accounts(account)
            await self._repos.kv.delete(self._key(account))
            opened = await self._reports.submit(
                Report(
                    reporter=account,
                    subject=_account(str(draft["who"])),
                    what=await self._without_own_links(str(draft.get("what", "")), mine),
                    where=await self._without_own_links(str(draft.get("where", "")), mine),
                    evidence=tuple(str(e) for e in _list(draft.get("evidence"))),
                    unsolicited_dm=_mentions_dm(str(draft.get("where", ""))),
                    share_identity=share,
                    origin=f"{message.platform.value}:{message.id}",
                )
            )
            template = (
                self._texts.report_received if share else self._texts.report_received_anonymous
            )
            return template.format(case=opened.case.id)
        await self._save(account, draft)
        return reply

    async def _who(
        self, text: str, mine: set[Account], mentions: Sequence[Account] = ()
    ) -> Account | None:
        """The reported account: a mention or id, or the author of a linked message; never
        the reporter ("I (@me) was insulted by @them" names @them), nor whom a reply
        fallback quotes."""
        for account in find_accounts(text, mentions):
            if bare(account) not in mine:
                return account
        for link in _LINK.findall(text)[:MAX_LINKS]:
            fetched = await self._fetch(link)
            if fetched is not None and bare(fetched.author.account) not in mine:
                return fetched.author.account
        return None

    async def _evidence(self, text: str, mine: set[Account]) -> list[str]:
        """Message links resolved to excerpts (what the message said, by whom). The
        reporter's own messages are left out: their link and words would name them."""
        out = []
        for link in _LINK.findall(text)[:MAX_LINKS]:
            fetched = await self._fetch(link)
            if fetched is None:
                out.append(link)
            elif bare(fetched.author.account) in mine:
                out.append("(a message of the reporter's own: left out)")
            else:
                # One line, no escapes: the backslash-n of a repr would hide a name from the scrub.
                said = " ".join(fetched.text.split())[:200]
                out.append(f"{fetched.author.account.key}: '{said}' ({link})")
        return out

    async def _without_own_links(self, text: str, mine: set[Account]) -> str:
        """``text`` without links to the reporter's own messages (they would name them)."""
        for link in _LINK.findall(text)[:MAX_LINKS]:
            fetched = await self._fetch(link)
            if fetched is not None and bare(fetched.author.account) in mine:
                text = text.replace(link, "(link left out)")
        return text

    async def _own_accounts(self, account: Account) -> set[Account]:
        """The reporter's accounts (linked ones too), compared without display names."""
        linked = await self._repos.identity.linked_accounts(account)
        return {bare(a) for a in [account, *(row.account for row in linked)]}

    async def _fetch(self, link: str) -> Message | None:
        """The linked message, read once per answer (who, evidence and the reporter's own
        links look at the same links)."""
        if link not in self._fetched:
            found = None
            for fetcher in self._fetchers.values():
                found = await fetcher.fetch(link)
                if found is not None:
                    break
            self._fetched[link] = found
        return self._fetched[link]

    async def _draft(self, account: Account) -> dict[str, object] | None:
        raw = await self._repos.kv.get(self._key(account))
        if raw is None:
            return None
        draft: dict[str, object] = json.loads(raw)
        if datetime.fromisoformat(str(draft["started"])) < self._clock() - DRAFT_TTL:
            await self._repos.kv.delete(self._key(account))
            return None
        return draft

    async def _save(self, account: Account, draft: dict[str, object]) -> None:
        await self._repos.kv.set(self._key(account), json.dumps(draft))

    @staticmethod
    def _key(account: Account) -> str:
        return f"{DRAFT_PREFIX}{account.key}"

    # -- DM consent ---------------------------------------------------------------------------

    async def _consent(self, account: Account, text: str) -> str:
        words = text.split()
        verb = words[1].lower() if len(words) > 1 else ""
        me = (await self._repos.identity.ensure(account)).member_id
        if verb in ("open", "closed"):
            await self._repos.consent.set_default(me, DmPolicy(verb))
            return self._texts.dm_open if verb == "open" else self._texts.dm_closed
        if verb in ("allow", "revoke") and len(words) > 2:
            other = parse_account(words[2])
            if other is None:
                return f"{words[2][:64]!r} is not a user: write @name:server or discord:<id>"
            them = (await self._repos.identity.ensure(other)).member_id
            if them == me:
                return self._texts.dm_help
            if verb == "allow":
                await self._repos.consent.allow(me, them)
                return self._texts.dm_allowed.format(member=other.key)
            await self._repos.consent.revoke(me, them)
            return self._texts.dm_revoked.format(member=other.key)
        return self._texts.dm_help


_DM_WORDS = re.compile(r"\b(dms?|direct(ly)? messages?|private messages?|inbox|pm)\b", re.I)


def _mentions_dm(where: str) -> bool:
    """Whether the member says it happened in a direct message (outside community spaces)."""
    return _DM_WORDS.search(where) is not None


def _account(key: str) -> Account:
    platform, _, account_id = key.partition(":")
    return Account(platform=Platform(platform), id=account_id)


def _list(value: object) -> Sequence[object]:
    return value if isinstance(value, list) else []

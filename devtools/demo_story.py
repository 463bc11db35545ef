"""The story ``modbridge demo`` tells: five scenes, each narrated as the people see it.

Each scene acts as the scripted people (matrix-nio clients, the Discord simulator's scripting
API), waits for what the real service does, and prints it. A scene that does not see what
should happen raises :class:`~devtools.demo_world.DemoError`: the demo never narrates an outcome
it did not observe.
"""

from __future__ import annotations

import asyncio
import re
import textwrap
import time
from datetime import datetime
from typing import TextIO

from devtools.demo_world import (
    DemoError,
    DiscordSide,
    MatrixSide,
    open_direct_room,
    until,
    was_sent,
)
from devtools.discord_simulator import SimulatorError
from rules.policy import Policy

WIDTH = 100  # columns of the story
PHONE = "0712 345 678"
ANSWER_WAIT = 20.0  # seconds; a moderator's answer waits for the actions' first attempts
INSULTS = ("y0u 1d10t, nobody asked", "what a l o s e r", "shut up, m0r0n")


class Narrator:
    """Prints the story: who said what where, and what happened. What the bot says is
    printed as it says it: it names members and spaces itself."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._started = time.monotonic()

    def _print(self, text: str) -> None:
        for line in text.split("\n"):
            indent = " " * (len(line) - len(line.lstrip()) + 4)
            for part in textwrap.wrap(line, WIDTH, subsequent_indent=indent) or [""]:
                print(part, file=self._out, flush=True)

    def line(self, text: str = "") -> None:
        self._print(text)

    def scene(self, title: str) -> None:
        self._print(f"\n== {title}")

    def says(self, platform: str, where: str, who: str, text: str) -> None:
        self._print(f"[{platform:<7} {where}] {who}: {text}")

    def outcome(self, text: str) -> None:
        self._print(f"    -> {text}")

    def quote(self, text: str, indent: str = "         ") -> None:
        for line in text.splitlines():
            if line.strip():
                self._print(f"{indent}{line}")

    def detail(self, text: str) -> None:
        self.quote(text, "       ")

    def elapsed(self) -> float:
        return time.monotonic() - self._started


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


async def chat(n: Narrator, mx: MatrixSide, dc: DiscordSide) -> None:
    """Scene 1: ordinary chat on both platforms, left alone."""
    n.scene("1. Members chat on Discord and Matrix")
    hello = "Morning all! Who is coming to the meetup on Saturday?"
    posted = dc.sim.post_message(dc.baraka, dc.general, hello)
    n.says("Discord", "#general", "Baraka", hello)
    reply = "Me! I will bring the slides on Kubernetes operators."
    sent = await mx.amina.send(mx.general, reply)
    n.says("Matrix", "#general", "Amina", reply)
    await asyncio.sleep(1.5)  # the service has judged both by now
    kept = dc.sim.message_exists(posted) and not await mx.otieno.sees_redacted(
        mx.general, sent.event_id
    )
    if not kept:
        raise DemoError("an ordinary message was removed")
    n.outcome("nothing happens: both messages stay, nobody is warned")


async def doxxing(n: Narrator, mx: MatrixSide, dc: DiscordSide) -> None:
    """Scene 2: a phone number on Matrix: redacted, the member warned, moderators told."""
    n.scene("2. Doxxing on Matrix: a member posts someone's phone number")
    text = f"Baraka's number is {PHONE}, just call him"
    sent = await mx.amina.send(mx.general, text)
    n.says("Matrix", "#general", "Amina", text)
    started = time.monotonic()
    await until(
        lambda: mx.otieno.sees_redacted(mx.general, sent.event_id), "the number to be redacted"
    )
    took = time.monotonic() - started
    n.outcome(f"gone for everyone after {took:.1f} s: Otieno's client shows it as redacted")

    async def warning() -> str | None:
        await mx.amina.join_invited()
        for room_id in mx.amina.invited_rooms:
            for sender, body in await mx.amina.messages(room_id):
                if sender == mx.bot.user_id and "warning" in body:
                    return body
        return None

    body = await until(warning, "Amina's warning")
    n.outcome("Amina is warned in a direct chat with the bot:")
    n.quote(body)

    async def mod_notice() -> str | None:
        notices = [b for _, b in await mx.wanjiru.messages(mx.mods, "m.notice")]
        return next((b for b in notices if b.startswith("Case #")), None)

    notice = await until(mod_notice, "the case notice in the Matrix mod room")
    n.outcome("the moderators are told on both platforms (the number is not repeated):")
    n.detail(f"[Matrix  #moderators] {_first_line(notice)}")

    async def discord_notice() -> str | None:
        return next((m for m in dc.bot_messages(dc.mods) if m.startswith("Case #")), None)

    same = await until(discord_notice, "the case notice in #mods")
    n.detail(f"[Discord #mods] {'the same notice' if same == notice else _first_line(same)}")
    if any(p in said for said in (notice, same) for p in (PHONE, PHONE.replace(" ", ""))):
        raise DemoError("the notice repeated the phone number")


async def _link(n: Narrator, mx: MatrixSide, dc: DiscordSide) -> None:
    """Kip proves both accounts are his: `link` on Discord, `link <code>` on Matrix."""
    n.line("Kip links his Discord and Matrix accounts, as members do:")
    dm = dc.sim.open_dm(dc.kip, dc.bot)
    dc.sim.post_message(dc.kip, dm, "link")
    n.says("Discord", "DM", "Kip", "link")

    async def code() -> str | None:
        for message in dc.bot_messages(dm):
            found = re.search(r"link code is (\d+)", message)
            if found:
                return found.group(1)
        return None

    number = await until(code, "the link code on Discord")
    n.says("Discord", "DM", "modbridge", f"Your link code is {number}. (...)")
    room = await open_direct_room(mx.kip, mx.bot.user_id)
    await mx.kip.send(room, f"link {number}")
    n.says("Matrix", "DM", "Kip", f"link {number}")

    async def linked() -> str | None:
        answers = [b for _, b in await mx.kip.messages(room, "m.notice")]
        return next((b for b in answers if b.startswith("Linked")), None)

    n.says("Matrix", "DM", "modbridge", await until(linked, "the link confirmation"))


async def troll(n: Narrator, mx: MatrixSide, dc: DiscordSide, policy: Policy) -> None:
    """Scene 3: disguised insults on Discord add up to a mute on both platforms."""
    n.scene("3. A troll on Discord, muted on both platforms")
    await _link(n, mx, dc)
    for said in ("hi all, new here", "anyone from Mombasa?"):
        dc.sim.post_message(dc.kip, dc.general, said)
        n.says("Discord", "#general", "Kip", said)
        await mx.kip.send(mx.general, said)
        n.says("Matrix", "#general", "Kip", said)
    dm = dc.sim.open_dm(dc.kip, dc.bot)
    rule = next(r for r in policy.rules if r.id == "insults")
    total = 0
    for text in INSULTS:
        warned_before = sum("warning" in m for m in dc.bot_messages(dm))
        message = dc.sim.post_message(dc.kip, dc.general, text)
        n.says("Discord", "#general", "Kip", text)
        started = time.monotonic()

        async def deleted(message_id: int = message.id) -> bool:
            return not dc.sim.message_exists(message_id)

        await until(deleted, "the insult to be deleted")
        took = time.monotonic() - started

        async def warned(before: int = warned_before) -> bool:
            return sum("warning" in m for m in dc.bot_messages(dm)) > before

        await until(warned, "Kip's warning")
        total += rule.points
        steps = [s for s in policy.escalation.ladder if total - rule.points < s.points <= total]
        ladder = "".join(f"; the ladder's {s.points}-point step: {s.action}" for s in steps)
        n.outcome(f"deleted after {took:.1f} s, Kip warned by DM; {total} points{ladder}")
    n.outcome("the mute is carried out on every account Kip has:")

    async def timed_out() -> datetime | None:
        member = dc.sim.member(dc.guild, dc.kip)
        if member is None or not member.is_timed_out():
            return None
        return member.communication_disabled_until

    until_when = await until(timed_out, "Kip's Discord timeout")
    n.detail(f"[Discord] Kip is timed out until {until_when:%H:%M:%S} UTC")
    try:
        dc.sim.post_message(dc.kip, dc.general, "why can't I talk?")
    except SimulatorError as exc:
        n.detail(f"[Discord] Kip tries to write in #general: refused ({exc})")
    else:
        raise DemoError("Kip could still post on Discord")

    async def refused() -> str | None:
        answer = await mx.kip.send(mx.general, "fine, I'll say it here then")
        return None if was_sent(answer) else str(getattr(answer, "status_code", answer))

    code = await until(refused, "Kip's Matrix send to be refused")
    n.detail(f"[Matrix] Kip tries to write in #general: refused by the homeserver ({code})")


async def ban(n: Narrator, mx: MatrixSide, dc: DiscordSide) -> None:
    """Scene 4: a temporary `/mod ban` with purge on Discord reaches Matrix, and the Matrix
    moderators read it in their modlog; the answer is the moderator's alone."""
    n.scene("4. A moderator bans for a day with a Discord slash command, purging the last hour")
    reason = "repeated insults"
    options = {"member": dc.kip, "duration": "1d", "reason": reason, "purge": "1h"}
    handle = dc.sim.invoke_slash_command(dc.bot, dc.wanjiru, dc.mods, "mod ban", options)
    n.says(
        "Discord", "#mods", "Wanjiru", f"/mod ban member:Kip duration:1d reason:{reason} purge:1h"
    )
    answer = await handle.wait_for_content(timeout=ANSWER_WAIT)
    n.outcome(f"the answer, which only Wanjiru sees (ephemeral: {handle.ephemeral}):")
    n.quote(answer)
    if not dc.sim.is_banned(dc.guild, dc.kip):
        raise DemoError("Kip is not banned on Discord")
    n.outcome("Kip is banned from the Discord server, until tomorrow")
    left = [m.content for m in dc.sim.messages_in(dc.general) if m.author_id == dc.kip.id]
    if left:
        raise DemoError(f"Kip's messages are still on Discord: {left}")
    n.outcome("Kip's earlier messages are gone from Discord's #general")
    kept_after = await _kips_matrix_messages(mx)
    if kept_after:
        raise DemoError(f"Kip's messages are still on Matrix: {kept_after}")
    n.outcome("and redacted on Matrix: Otieno's client shows none of them any more")

    async def refused() -> str | None:
        answer = await mx.kip.client.join(mx.general)
        message = str(getattr(answer, "message", ""))
        return message if "banned" in message else None

    why = await until(refused, "Kip's Matrix join to be refused")
    n.outcome(f"[Matrix] Kip tries to rejoin #general: refused ({why})")

    async def modlog() -> str | None:
        notices = [b for _, b in await mx.wanjiru.messages(mx.mods, "m.notice")]
        return next((b for b in notices if b.startswith("[modlog]") and " ban 1d" in b), None)

    line = await until(modlog, "the modlog line in the Matrix mod room")
    n.outcome("the Matrix moderators read it in their room's modlog:")
    n.detail(f"[Matrix  #moderators] modbridge: {line}")


async def _kips_matrix_messages(mx: MatrixSide) -> list[str]:
    """Kip's messages in Matrix #general that are not redacted, as Otieno sees them."""
    said = await mx.otieno.messages(mx.general)
    return [b for sender, b in said if sender == mx.kip.user_id and b]


async def case(n: Narrator, mx: MatrixSide) -> None:
    """Scene 5: `!case 1` in the Matrix mod room, and the bot's answer."""
    n.scene("5. A moderator looks up a case from the Matrix mod room")
    before = len(await mx.wanjiru.messages(mx.mods, "m.notice"))
    await mx.wanjiru.send(mx.mods, "!case 1")
    n.says("Matrix", "#moderators", "Wanjiru", "!case 1")

    async def answer() -> str | None:
        notices = [b for _, b in await mx.wanjiru.messages(mx.mods, "m.notice")][before:]
        return next((b for b in notices if b.startswith("Case #1 (")), None)

    text = await until(answer, "the answer to !case 1")
    head, _, rest = text.partition("\n")
    n.says("Matrix", "#moderators", "modbridge", head)
    n.quote(rest)

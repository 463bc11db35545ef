"""Distinct chat messages for the engine benchmark, generated from a large vocabulary.

Every message is built from a template, words drawn from several hundred technical, English,
Swahili and Sheng words, names, emoji, and fresh numbers (versions, ports, addresses, ticket
and commit ids, times, sums of money). With a fixed seed the corpus is the same on every run;
``distinct_corpus`` guarantees that no text appears twice, so the engine's caches get no help
from repeats. 5-10 % of messages are violations of the example policy in varied shapes.

This corpus is for timing only: the labelled evaluation set (tests/data/) is written apart.
"""

from __future__ import annotations

import random


def _words(block: str) -> list[str]:
    return block.split()


TECH = _words("""
nova neutron cinder glance keystone swift heat horizon placement octavia ironic magnum
manila designate barbican kolla ansible helm kubectl kubelet etcd coredns calico cilium
flannel ingress nginx haproxy keepalived rabbitmq mariadb galera postgres redis memcached
ceph rgw osd monitor mgr pool pg bluestore rbd cephfs terraform packer vagrant docker podman
containerd runc buildah registry harbor quay gitlab jenkins zuul tox pytest mypy ruff linter
pipeline runner artifact tarball wheel sdist venv pip poetry conda uvicorn gunicorn django
flask fastapi celery kafka zookeeper prometheus grafana loki tempo jaeger alertmanager
exporter dashboard metrics logs traces span latency throughput quota limit flavor image
snapshot volume backup replica shard cluster node master worker controller compute
hypervisor libvirt qemu kvm vcpu ram disk nvme ssd raid bond vlan vxlan geneve ovn ovs
bridge router subnet gateway dhcp dns mtu bgp firewall iptables nftables selinux apparmor
certificate tls ssl csr keypair token secret vault oauth oidc ldap saml sso rbac policy role
project domain tenant quota endpoint catalog api sdk cli openstackclient microversion
release branch tag commit rebase merge cherry-pick patchset review gerrit upstream
downstream backport bugfix regression changelog deprecation migration schema upgrade
rollback canary bluegreen rollout deployment statefulset daemonset cronjob job pod container
namespace configmap pvc storageclass scheduler autoscaler webhook operator crd yaml json
toml regex cron systemd journald syslog rsyslog logrotate ssh bastion jumpbox
""")

VERBS = _words("""
deploy restart rebuild migrate upgrade patch debug trace profile benchmark tune scale drain
cordon reboot provision decommission rotate renew revoke configure install uninstall build
test lint merge rebase review approve reject backport bisect reproduce document monitor
alert page escalate triage label close reopen assign mirror sync cache flush purge compact
""")

ENGLISH = _words("""
anyone someone everyone today tomorrow yesterday morning evening tonight weekend meetup
slides recording venue agenda speaker talk workshop hackathon sponsor lunch coffee chai
snacks projector cable adapter wifi hotspot laptop charger room hall campus library question
answer idea plan proposal draft notes minutes summary thread channel issue ticket bug
feature docs tutorial guide example sample demo video stream link photo badge sticker shirt
swag prize raffle survey feedback thanks welcome congrats cheers awesome great nice cool
weird strange odd slow fast stable flaky broken fixed working failing green red
""")

SWAHILI = _words("""
habari asante karibu sawa ndiyo hapana leo kesho jana asubuhi mchana jioni usiku wiki mwezi
mkutano warsha mada mzungumzaji ukumbi chakula chai kahawa maji mvua jua barabara matatu
gari nyumba ofisi shule chuo kazi mradi msimbo seva mtandao simu kompyuta tatizo suluhisho
swali jibu wazo mpango rasimu maelezo mfano video picha tiketi usajili malipo bei pesa
shilingi elfu mia moja mbili tatu nne tano sita saba nane tisa kumi mzuri vizuri polepole
haraka tafadhali samahani pole hongera kwaheri rafiki ndugu dada kaka mama baba mwalimu
mwanafunzi jamii kikundi nairobi mombasa kisumu nakuru eldoret thika machakos
""")

SHENG = _words("""
sasa niaje poa fiti mambo vipi buda msee manze wasee maze bana kwani sijui venye ata ama
noma mbogi ganji doh mkwanja form bazu mathree nduthi mtaa kejani rada shash wueh sawa sawa
fresh mzing freshi cheki kuja tutaonana tuko pamoja sherehe mzae beshte gotea
""")

NAMES = _words("""
wanjiru otieno kamau achieng mutua njeri kiprop chebet wafula nyambura odhiambo kariuki
mwangi atieno juma baraka zawadi amani imani neema faraja tumaini jabari halima salim fatuma
hassan grace brian kevin mercy faith joy dennis collins sharon ivy ruth paul mark
""")

EMOJI = _words("""
🎉 👍 🙏 😂 🔥 ✅ ❌ 🚀 💡 😅 🤔 👀 🙌 ❤️ 😎 🇰🇪 ☕ 📎 🐛 🛠️ 📢 💯 😭 🤝
""")

TEMPLATES = (
    "{verb} {tech} on {host} after {version}, {tech} keeps {adj}",
    "has {anyone} tried {tech} {version} with {tech}? {emoji}",
    "{name} the {tech} {tech} is {adj} again, see {ticket}",
    "commit {sha} {verb}s the {tech} {tech} {emoji}",
    "{sw} {sw} {name}, {sw} {sw} {sh} {emoji}",
    "{sh} {sh} {name} {sw} {sw} {sw} {tech}?",
    "the {en} is at {time} on {day}, {en} {en} {emoji}",
    "{tech} logs show {code}s between {time} and {time} on {date}",
    "budget for the {en} is KES {money} for {sw} {sw}",
    "try {verb}ing the {tech} timeout to {small}s, we hit the same on {ip}:{port}",
    "{name}: {tech} {tech} {tech} {verb} --{tech}-{tech}={small}",
    "{en} {en} {en} @{name} {emoji} {emoji}",
    "karibu {name}! {sw} {sw} {en} {en} ni {time}",
    "kubectl get pods -n {tech} | grep {tech} # {en} {en}",
    "{sh} {name}, {tech} imekataa {sw} {sw} {emoji}",
    "issue {ticket}: {tech} {verb} fails with exit code {small} on {tech}-{version}",
    "pip install {tech}=={version} fixed it for me, {en} {en}",
    "{name} {name} {name} thanks for the {en} {emoji}",
    "https://github.com/{name}/{tech}-{tech}/pull/{port} {en} {en}",
    "{sw} {sw} {sw} {sw}, {en} {tech} {tech} {sh}",
)

VIOLATIONS = (
    "you {name} are such an {insult}",
    "{name} you {insult}, {tech} is not that hard",
    "whats ur whatsapp {name}? lets talk privately",
    "call him on 07{d2} {d3} {d3}, {en} {emoji}",
    "her email is {name}{small}@gmail.com {emoji}",
    "join https://discord.gg/{name}{small} now {emoji}",
    "{name} {sw} {sw} {insult_sw} {emoji}",
    "send nudes {name} {emoji}",
    "i know where you live {name}",
    "nipe namba yako {name} {sh}",
)
INSULTS = ("idiot", "moron", "imbecile", "l o s e r", "1d10t", "bastard", "dumbass")
INSULTS_SW = ("mjinga", "mpumbavu", "fala", "kumbafu")


def _fill(template: str, rng: random.Random) -> str:
    """``template`` with each placeholder drawn afresh."""
    draws = {
        "tech": lambda: rng.choice(TECH),
        "verb": lambda: rng.choice(VERBS),
        "en": lambda: rng.choice(ENGLISH),
        "anyone": lambda: rng.choice(("anyone", "someone", "everyone here", "any of you")),
        "sw": lambda: rng.choice(SWAHILI),
        "sh": lambda: rng.choice(SHENG),
        "name": lambda: rng.choice(NAMES),
        "emoji": lambda: rng.choice(EMOJI),
        "adj": lambda: rng.choice(("failing", "flaky", "timing out", "slow", "crashing")),
        "host": lambda: f"{rng.choice(TECH)}-{rng.randrange(1, 40):02d}",
        "version": lambda: f"{rng.randrange(1, 30)}.{rng.randrange(0, 12)}.{rng.randrange(0, 9)}",
        "ticket": lambda: f"OPS-{rng.randrange(1000, 99999)}",
        "sha": lambda: f"{rng.getrandbits(32):08x}",
        "time": lambda: f"{rng.randrange(7, 22)}:{rng.choice(('00', '15', '30', '45'))}",
        "day": lambda: rng.choice(("Saturday", "Monday", "Jumamosi", "Ijumaa", "Friday")),
        "date": lambda: f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "code": lambda: str(rng.choice((500, 502, 503, 504, 404, 409, 429))),
        "money": lambda: f"{rng.randrange(1, 99)},{rng.randrange(0, 999):03d}",
        "small": lambda: str(rng.randrange(2, 120)),
        "ip": lambda: f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "port": lambda: str(rng.randrange(1024, 65535)),
        "insult": lambda: rng.choice(INSULTS),
        "insult_sw": lambda: rng.choice(INSULTS_SW),
        "d2": lambda: f"{rng.randrange(10, 30)}",
        "d3": lambda: f"{rng.randrange(100, 1000)}",
    }
    out = []
    rest = template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        key, _, rest = tail.partition("}")
        out.append(head)
        out.append(draws[key]())
    out.append(rest)
    return "".join(out)


def distinct_corpus(n: int, *, seed: int = 7, violations: float = 0.07) -> list[str]:
    """``n`` distinct texts: chatter with ``violations`` of them breaking the example policy."""
    rng = random.Random(seed)
    seen: set[str] = set()
    texts: list[str] = []
    while len(texts) < n:
        pool = VIOLATIONS if rng.random() < violations else TEMPLATES
        text = _fill(rng.choice(pool), rng)
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


def vocabulary_size() -> int:
    """How many distinct words the generator draws from (numbers not counted)."""
    return len(set(TECH + VERBS + ENGLISH + SWAHILI + SHENG + NAMES + EMOJI))

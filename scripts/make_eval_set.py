"""Writes tests/data/conduct_eval.jsonl: the labelled evaluation set of the example policy.

Usage: .venv/bin/python scripts/make_eval_set.py

Violations are written per category of the code of conduct the example policy enforces; each
is also disguised the ways evaders do (spacing, l33t, look-alike letters, invisible and control
characters, a right-to-left override, stretched and masked letters). Clean messages are
technical and community chatter in English, Swahili and Sheng; "false-alarm" messages use the
policy's words innocently and must get no enforced hit. Written without looking at what the
engine matches: a miss here is a miss to fix, not a message to reword.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "conduct_eval.jsonl"

# category -> (messages, the words in them that evasions disguise)
INSULTS = [
    ("you're a total moron", "moron"),
    ("what an idiot you are, seriously", "idiot"),
    ("you are such a complete idiot", "idiot"),
    ("shut up you imbecile", "imbecile"),
    ("ur a dumbass lol", "dumbass"),
    ("u r an idiot", "idiot"),
    ("you absolute moron, read the docs", "moron"),
    ("you are a pathetic loser", "loser"),
    ("youre an idiot", "idiot"),
    ("you're the biggest idiot in this channel", "idiot"),
    ("fuck you and your patches", "fuck"),
    ("fuck off already", "fuck"),
    ("fk you", "fk"),
    ("fuk u bro", "fuk"),
    ("stfu nobody asked", "stfu"),
    ("you bastard", "bastard"),
    ("what a piece of shit you are", "shit"),
    ("you are really stupid", "stupid"),
    ("dude you're so stupid", "stupid"),
    ("you stupid cow", "stupid"),
    ("such a loser, wow", "loser"),
    ("you're a useless noob", "noob"),
    ("asshole", "asshole"),
    ("shut up bitch", "bitch"),
    ("wewe ni mjinga sana", "mjinga"),
    ("mpumbavu wewe, toka hapa", "mpumbavu"),
    ("nyinyi ni wajinga wote", "wajinga"),
    ("we fala, hujui kitu", "fala"),
    ("kumbafu kabisa huyu", "kumbafu"),
    ("shenzi wewe", "shenzi"),
    ("huyu ni malaya tu", "malaya"),
    ("you are a retard", "retard"),
    ("you are an utter imbecile", "imbecile"),
    ("you really are a moron", "moron"),
    ("what a loser", "loser"),
    ("you idiot, you broke main", "idiot"),
    ("ur such a moron", "moron"),
    ("you're an absolute bastard", "bastard"),
    ("shut up you absolute clown", "clown"),
    ("ur so dumb", "dumb"),
    ("you are the dumbest idiot here", "idiot"),
]
THREATS = [
    ("kill yourself", "kill"),
    ("go kill yourself", "kill"),
    ("just kys", "kys"),
    ("kill urself loser", "kill"),
    ("kill ur self", "kill"),
    ("you should kill yourself", "kill"),
    ("go die in a ditch", "die"),
    ("i know where you live", "live"),
    ("i know where you work, watch out", "work"),
    ("i will hurt you", "hurt"),
    ("i will hurt you badly", "hurt"),
    ("nitakuua wewe", "nitakuua"),
    ("nitakuumiza ukiendelea", "nitakuumiza"),
    ("najua unaishi wapi", "unaishi"),
    ("utaona cha mtema kuni", "mtema"),
    ("i know where you stay", "stay"),
    ("kill your self already", "kill"),
    ("go and kill yourself", "kill"),
    ("i'll kill you", "kill"),
    ("im gonna stab you", "stab"),
    ("i'm going to beat you up", "beat"),
    ("imma hurt you so bad", "hurt"),
    ("we'll hurt you", "hurt"),
    ("i hope you die", "die"),
    ("you deserve to die", "deserve"),
    ("i will find you and kill you", "kill"),
    ("nitakuchinja", "nitakuchinja"),
]
DISCRIMINATION = [
    ("you faggot", "faggot"),
    ("shut up fag", "fag"),
    ("typical tranny", "tranny"),
    ("women can't code", "code"),
    ("women belong in the kitchen", "kitchen"),
    ("go back to your country", "country"),
    ("huyu ni msenge", "msenge"),
    ("hao wasenge wote", "wasenge"),
    ("stupid nigger", "nigger"),
    ("kaffir", "kaffir"),
    ("what a faggot", "faggot"),
    ("fags everywhere", "fags"),
    ("women dont belong in tech", "belong"),
]
SEXUAL = [
    ("send nudes", "nudes"),
    ("send me nudes babe", "nudes"),
    ("send me your nudes", "nudes"),
    ("you look sexy in that photo", "sexy"),
    ("nice hot body", "hot"),
    ("wanna hook up after the meetup", "hook"),
    ("come to my hotel room tonight", "hotel"),
    ("got any sexy pics?", "sexy"),
    ("send nudes pls", "nudes"),
    ("send noodz", "noodz"),
    ("show me your boobs", "boobs"),
    ("i want to sleep with you", "sleep"),
]
CONTACTS = [
    "her number is 0712 345 678",
    "call him on 0722 123 456",
    "reach her at 0733 222 111",
    "his phone: +254 712 345 678",
    "text wanjiru on 254712345678",
    "write to him at baraka.otieno@gmail.com",
    "reach her at njeri99@yahoo.com",
    "her email is achieng at gmail dot com",
    "mail him: kamau [at] outlook [dot] com",
    "her mobile 712 345 678",
    "call brian on 722 333 444",
    "his line is 07-22-33-44-55",
    "her number 07 12 34 56 78",
    "number yake ni 0711 000 111",
    "call her: zero seven one two three four five six seven eight",
    "his number is zero seven two two, one one one, two two two",
    "namba yake ni sifuri saba moja mbili tatu nne tano sita saba nane",
    "piga sifuri saba mbili mbili moja moja moja mbili mbili mbili",
    "her number: 0 7 1 2 3 4 5 6 7 8",
    "email her at z a w a d i @ g m a i l . c o m",
    "his gmail is k i p r o p 8 8 @ g m a i l . c o m",
    "her IG is @njeri.wairimu",
    "his insta: @brian_codes",
    "follow her on instagram @achieng_254",
    "her twitter is @mercy_dev",
    "find him on tiktok @kevo_ke",
    "her snap is @ivy.w",
    "reach him at +1 415 555 0134",
    "write to her at sharon@protonmail.com",
    "her whatsapp is 0799 888 777",
    "mpigie kwa 0700 111 222",
    "contact her on O7I2 345 678",
    "his number is 0712345678",
    "hit him up on 0721 987 654",
    "her telegram is @grace_k",
    "her tiktok @faith.wanjiku",
    "you can reach her at 0733-444-555",
    "call her on seven one two three four five six seven eight",
    "find her on instagram: wanjiku.k",
    "follow her ig wanjiku_254 and tell her what you think",
    "add him on snapchat otis.k",
]
SOLICITATION = [
    "what's your number?",
    "whats ur whatsapp",
    "can i get your phone number",
    "send me your number",
    "dm me your insta",
    "what is her whatsapp?",
    "what's his number",
    "do you have telegram?",
    "hit me up on whatsapp",
    "let's move this to telegram",
    "where do you live?",
    "what's your home address",
    "nipe namba yako",
    "tuma whatsapp yako",
    "gimme your snap",
    "can i have your email",
    "what is his phone number",
    "whats her insta",
    "can you send me her number?",
    "what's their whatsapp",
    "are you on whatsapp?",
    "add me on snapchat",
    "which estate do you live in",
    "unaishi wapi",
    "what is your personal email",
    "let's continue on whatsapp",
    "i need your number",
    "could you share his email with me",
    "drop your number",
    "pass me her number",
    "anyone have his number?",
    "who has her ig?",
    "does anyone know where she lives?",
    "nipe namba yake",
    "mtu ako na number ya huyo dem?",
    "anyone got wanjiku's contact?",
    "where can I find his home address",
]
INVITES = [
    "join discord.gg/abc123",
    "come to our server https://discord.gg/kenyadevs",
    "our group: https://chat.whatsapp.com/Fq1234abcd",
    "telegram: t.me/joinchat/AAAAxyz",
    "better server here discord.com/invite/xyz",
    "join t.me/+abcDEF123",
]

LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"})
INVISIBLE = ["\u200b", "\u200d", "\u00ad", "\u2060", "\x00", "\x07", "\x1b", "\u3164",
             "\u115f", "\ufeff", "\u180e", "\u2062", "\U000e0041", "\u206a", "\u061c"]  # fmt: skip


def _letters(word: str, sep: str) -> str:
    return sep.join(word)


def disguises(text: str, word: str, rng: random.Random) -> list[str]:
    """The message as evaders write it: each disguise applied to ``word`` or the whole text."""

    def on_word(f):
        return text.replace(word, f(word), 1)

    zw = rng.choice(INVISIBLE)
    out = [
        text,
        text.upper(),
        on_word(lambda w: _letters(w, " ")),
        _letters(text.replace(" ", ""), " "),  # the whole phrase spaced out
        on_word(lambda w: _letters(w, ".")),
        on_word(lambda w: w.translate(LEET)),
        on_word(lambda w: w.translate(CYRILLIC)),
        on_word(lambda w: _letters(w, zw)),
        on_word(lambda w: _letters(w, rng.choice(INVISIBLE))),
        on_word(lambda w: w[0] + w[1:-1].replace(w[1], w[1] * 4, 1) + w[-1] if len(w) > 3 else w),
        on_word(lambda w: w[0] + "*" + w[2:] if len(w) > 4 else w),
        on_word(lambda w: "\u202e" + w[::-1] + "\u202c"),
        on_word(lambda w: "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in w)),
    ]  # fmt: skip
    return [o for o in dict.fromkeys(out) if o != text or o is out[0]]


CLEAN = """
has anyone upgraded nova to 2025.1? placement keeps timing out
try bumping the haproxy timeout to 60s, we saw the same on 10.0.0.12:8778
karibu sana! the meetup is on saturday at iHub, 2pm
kolla-ansible deploy failed on TASK [nova : Check containers], any idea?
ceph health says HEALTH_WARN 1 pool(s) have no replicas configured
thanks @wanjiru that fixed it 🎉
the CI job openstack-tox-py311 is flaky again, see OPS-4821
commit 9f3c2a1b fixes the ovn metadata agent
who is bringing the projector? i can bring extension cables
kubectl get pods -n openstack | grep -v Running
budget for the venue is KES 25,000 for the afternoon
lol the wifi at the last meetup was terrible
i'll share the recording on the meetup page tomorrow
swift proxy logs show 503s between 14:00 and 14:30 on 2026-11-20
kill the process and restart nova-compute, it will recover
if the pod hangs just kill it with kubectl delete pod --force
the old workers die after 30s, that is expected with the new timeout
sudo kill -9 4121 then start the service again
the fag end of the sprint is always chaos
we visited the nudes exhibition at the national museum, lovely paintings
the renaissance room had nudes and landscapes
order #0712345678 has shipped, tracking says friday
my order number is 0712345678 fyi, the shop never delivered
invoice 0722334455 is paid
the ticket id is 0711223344, can someone look at it
what is your number of replicas in the ceph pool?
what's your email client? thunderbird keeps crashing for me
send your talk proposals to the cfp form before friday
the speaker asked what our mailing list address is
post to openstack-discuss@lists.openstack.org with [nova] in the subject
what is the address of the venue? i'll take a matatu
where do you stay updated on kubernetes releases?
do you have the signal strength numbers from the rack?
whatsapp api webhooks are failing with 401 since morning
our telegram bot is down again, someone restart it please
the m-pesa sandbox number 254708374149 works for testing
i will find you a mentor for the outreachy round
watch your back-pressure settings on kafka consumers
sorry if this is a stupid question but how do i rebase?
i felt like an idiot after deleting the wrong branch 😅
shut up, that's amazing news! congrats on the release
the loser of the raft election steps down to follower
you are the best, thanks for the review
you are an absolute legend for fixing that
you're a lifesaver, the deploy works now
you are so right, i missed that flag
are you coming to the meetup on friday?
kill -HUP the master process to reload the config
the child processes die when the parent is killed, that's by design
hot reload works in dev but not in prod
this is a hot path, please don't add logging there
the hook script runs before every commit
we hook up the webhook to the ci pipeline
sexy new dashboard in grafana 11, have you seen it?
the class assistance program is open to all students
the grass is greener on the other side of the cluster
cocktail hour after the meetup at the rooftop
scunthorpe and essex mirrors are both up
the analyst says the assassination of bugs continues 😂
habari za asubuhi wote, mkutano unaanza saa nane
asante sana kwa slides, zilikuwa nzuri
tutaonana jumamosi ukumbi wa chuo kikuu
nimeweza ku-deploy kwa mara ya kwanza, asante
kesho kuna warsha ya kubernetes, karibuni wote
samahani nimechelewa, matatu ilikwama thika road
bei ya tiketi ni shilingi mia tano tu
mvua imenyesha sana leo, tuko online badala yake
mzungumzaji wa leo ni dada wanjiku kutoka safaricom
nani ana chaja ya laptop ya ziada?
poa sana, niaje wasee
manze hii bug imenichosha
buda hiyo config ni fiti sasa
msee cheki hii PR kabla ya kesho
sasa wasee, tuko pamoja kesho kwa meetup
noma sana, deploy imepita green 🚀
form ni gani leo baada ya meetup?
mbogi yote iko hapa, tunangoja speaker
hii server inakataa kuboot, sijui venye nitafanya
wueh, hiyo outage ilikuwa noma
the placement service returned 409 on allocation
run openstack server list --all-projects to see them all
glance image-create failed: 413 request entity too large
bump the mtu to 9000 on the storage vlan
the bgp session flaps every 15 minutes
certificate expires on 2026-12-01, renew it with certbot
our quota is 200 vcpus and 512 GB ram
helm upgrade --install ingress ingress-nginx/ingress-nginx
please review https://review.opendev.org/c/openstack/nova/+/912345
git log --oneline | head -20
the rabbitmq cluster lost quorum again last night
grafana shows p99 latency at 320 ms after the upgrade
we need 3 more volunteers for registration at the door
sponsors: safaricom, andela and microsoft are confirmed
the hackathon prize is 50,000 shillings
the call for papers closes on 15 november
lunch will be pilau and chapati, vegetarian options available
parking is free at the venue after 1pm
the meetup page has the agenda and the map
i'm stuck on error 0x80070005 when installing wsl
pip install python-openstackclient==7.0.0
the keystone token expired after 3600 seconds
check /var/log/nova/nova-compute.log for the traceback
set debug = True in nova.conf and restart
our wiki is at wiki.openinfra.dev/kenya
use port 6443 for the kubernetes api
the vm got ip 192.168.122.45 from dhcp
the dashboard runs on http://10.1.2.3:8080
the build number 20261124.3 is green
version 1.29.3 of kubelet fixes the memory leak
serial number of the switch is 07123456789012
mac address 00:1a:2b:3c:4d:5e is duplicated
the uuid is 0712a345-6789-4abc-def0-123456789abc
call the api with curl -X POST and a json body
reach out to the organisers through this channel if you need help
dm me for the slides, happy to share
you can contact the organisers at info@openinfra.dev
the community email is kenya@lists.openinfra.dev
for sponsorship ask in #sponsors
anyone know where the talks will be streamed?
the youtube link will be posted here
i work at safaricom in the cloud team
we meet at the ihub every second saturday
my laptop died during the demo lol
i nearly died laughing at that error message
this patch kills two birds with one stone
the killer feature is live migration
we will execute the migration script at midnight
the hangman game in the python workshop was fun
the bitcoin talk was actually about blockchain databases
free pizza for speakers!
win a raspberry pi at the raffle
the crypto module in python is deprecated, use cryptography
your email address field in the registration form is broken
the phone number field validation rejects +254 numbers
number of workers should match cpu cores
whats the number of shards in that index?
the address space of the subnet is 10.0.0.0/16
where do you live-migrate the instances to during maintenance?
do you have telegram notifications enabled for the alerts?
dm me if you want to pair on this
ping me on this channel when the build finishes
what's your take on k3s vs k0s?
what's your github handle? i'll add you to the org
can i get your opinion on the design doc?
send me your slides and i'll upload them
i need your feedback on the rfc by friday
drop your questions in the thread
let's move this discussion to the #nova channel
let's take this to a thread
your patch looks good, just fix the pep8 errors
you're right, the bug is in the scheduler
you idiot-proofed the installer, nice work
i'm such an idiot, i forgot to save the file
what a stupid bug, took me two days
this loser function returns None sometimes
the retarded potential in physics is a real term
we need a dumb proxy here, no logic
the bastard file from git-annex got corrupted
he shared the code of conduct link with everyone
report harassment to the organisers, confidentially
the code of conduct forbids sharing contact details
be kind and assume good faith
moderators will remove spam links
welcome to the new members who joined today 👋
please introduce yourselves in #introductions
happy new year wasee 🎉
hongera kwa kupata kazi mpya!
pole sana kwa msiba
karibu kwa kikundi, jisikie nyumbani
leo tunazungumza kuhusu ceph na openstack
darasa la python litaanza saa kumi jioni
nimepata error 500 kwenye api, mtu ameona hii?
tafadhali soma documentation kabla ya kuuliza
nambari ya chumba ni 204, ghorofa ya pili
tiketi namba 4521 imefungwa
namba yako ya ticket ni gani kwa usajili?
hiyo ni namba ya oda, si ya simu
ukumbi uko karibu na kituo cha matatu
tutashiriki slides kwenye github baadaye
mambo vipi msee, deploy imeenda aje?
sasa hii pipeline imekataa tena
bana hii yaml indentation ni shida
ata mimi sijui, cheki logs
hii form ya jioni iko aje?
tuko rada na update ya kubernetes
fresh sana, hiyo fix iko poa
kejani kwangu wifi ni slow sana leo
nduthi imenifikisha venue mapema
beshte yangu ameleta projector
the sla says 99.9% uptime per month
throughput hit 12,000 req/s on the new nodes
latency dropped from 800ms to 120ms
we processed 1.2 million events yesterday
the backup took 4h 32m for 2.3 TB
scheduled maintenance: 2026-12-05 02:00-04:00 EAT
phone lines at the office are down, use the meetup chat
my phone died, i'll reply later
the whatsapp group for the conference is announced on the website
telegram is blocked on the venue wifi
i'll email the slides to the mailing list
the number 42 is the answer to everything
pi is 3.14159265358979
the hash is sha256:0712345678abcdef0712345678abcdef
run seq 0712345678 0712345690 for the test data
the port range is 30000-32767 for nodeports
coordinates are -1.2921, 36.8219 for nairobi
the isbn is 978-0-13-468599-1
dates: 12-11-2026 to 15-11-2026
the mpesa code QJK7XYZ12 confirms payment
paybill 400200 account 1234567
the build took 0712 seconds lol, weird number
the terraform plan shows 14 resources to change
ansible-playbook site.yml --limit compute03 --check
anyone using cilium instead of calico in prod?
the etcd defrag freed 2 GB, latency is back to normal
our argo rollout paused at 20% canary
prometheus alert KubePodCrashLooping fired for the exporter
loki ingestion is behind by 10 minutes
the registry is full, prune old images please
harbor replication to the dr site is broken
gerrit is slow today, reviews take forever to load
zuul requeued the gate after the timeout
the tox env py312 fails on the docs build
mypy complains about the missing stubs for yaml
ruff format changed 40 files, sorry for the noise
the python workshop needs 20 laptops with linux installed
the venue wifi password is on the whiteboard
coffee break at 11, lunch at 1
the keynote starts in 5 minutes, please find your seats
the slides are uploaded to the shared drive
the recording is on youtube now, link in the description
thanks to all the volunteers who set up the hall 🙏
next month's topic is observability with opentelemetry
who wants to give a lightning talk next time?
the survey closes on sunday, please fill it in
the stickers arrived, pick yours at the front desk
the t-shirts come in S, M, L and XL
we have 150 registrations and 40 on the waitlist
the bus from the cbd leaves at 8:30
bring your id for the building security check
the room fits 80 people, overflow goes to hall b
i can't make it this time, traveling to kisumu
congrats to the team that won the hackathon 🏆
the mentorship program pairs juniors with seniors
we are looking for a co-organiser in mombasa
can someone explain how neutron dvr works?
is there a good guide for openstack on a single node?
microstack or devstack for learning?
devstack stack.sh fails at the keystone step
the apt mirror in nairobi is faster than the default
we moved the docs to mkdocs material
the api reference is generated from the openapi spec
cinder backup to s3 works with the new driver
octavia amphora images need rebuilding after the cve
barbican stores the tls certs for the load balancers
designate syncs the zones to powerdns
the ironic conductor lost power during inspection
magnum templates for k8s 1.30 are available
manila with cephfs native works fine for us
heat stacks get stuck in DELETE_IN_PROGRESS sometimes
horizon shows the wrong quota usage after resize
the nova scheduler filters out hosts with old microcode
placement reports inventory mismatch on compute07
keystone federation with azure ad finally works
the galera cluster needs an odd number of nodes
memcached restart logs everyone out of horizon
haproxy stats page shows two backends down
keepalived moved the vip to controller02
the ovs bridge br-ex lost its ip after reboot
iptables rules got flushed by docker again
selinux denials in the audit log for libvirt
the nvme drives report high wear level
the raid controller firmware update needs a reboot
the new servers have 256 cores and 1 TB ram each
power usage in the rack is at 80%
the ups battery test passed this morning
habari ya jioni, mtu ameweza kuinstall devstack?
nimejaribu mara tatu, bado inakataa
tafadhali tumeni slides kwenye group la github
asante kwa kuja, tutaonana mwezi ujao
chakula kitakuwa tayari saa saba mchana
mkutano wa leo umehamishiwa ukumbi namba mbili
wanafunzi wa chuo wanakaribishwa bure
tunahitaji wajitolea watano kwa usajili
leo ni siku ya mwisho ya kujiandikisha
mtandao wa venue ni wa polepole kidogo
nimeandika blog kuhusu kubernetes kwa kiswahili
tunatafsiri documentation kwa kiswahili, karibu usaidie
kazi nzuri sana timu, release imetoka
hii ni mara yangu ya kwanza kwenye meetup, nafurahi
mvua ikinyesha tutakuwa online kwa zoom
nimefika, niko kwa mlango wa nyuma
kuna mtu ana adapter ya hdmi?
sijui kama nitaweza kufika kesho
tuanze saa tisa kamili tafadhali
swali zuri, ngoja nitafute jibu
poa buda, nimeona PR yako
manze leo traffic ni noma, nitachelewa
wasee tuko online ama?
sasa mzing, hiyo talk ilikuwa fiti
niaje, hii docker compose inafanya kazi kwako?
cheki logs za pod kwanza kabla ya ku-restart
hiyo bug imeenda, asante buda
tuko pamoja kwa hackathon wikendi hii
freshi, nitaleta extension cable
mbogi ya devops iko wapi leo?
ata mimi nilipata hiyo error jana
hii config imenishinda, mtu anisaidie
msee umeona release notes za nova?
bazu amesema tutapata pizza
rada ni gani kwa meetup ya mombasa?
wueh hiyo demo ilikuwa poa sana
nimechoka na hii yaml, lakini iko sawa sasa
leo ni leo, tunadeploy production
the pr description needs a test plan
please squash your commits before merging
rebase on main, there is a conflict in setup.cfg
the release branch is cut on thursday
backport the fix to stable/2024.2 as well
the changelog entry is missing for this change
deprecation warnings will become errors in the next release
we rotate the credentials every 90 days
the vault token ttl is 24h by default
oidc login works for horizon and the cli now
rbac policies for the new api are documented
the quota for floating ips is 10 per project
commit 254712345678 fixed the flaky test
questions? write to the organisers at info@openinfra.ke
i'll kill the old pods after the upgrade
I'm going to beat you at chess on friday
i'll shoot you an email with the slides
where's his home directory on the bastion?
the new installer is moron-proof at last
"""

# A clean line holding a word or number shape the policy looks for is a false-alarm test.
_TRICKY = ("kill", "die", "fag", "nude", "order", "invoice", "ticket id", "retarded", "bastard",
           "idiot", "loser", "stupid", "dumb", "number", "0712", "sexy", "hot ", "hook",
           "assassin", "cocktail", "scunthorpe", "assistance", "grass", "07123", "2547",
           "info@", "beat you", "shoot you", "home directory", "-proof")  # fmt: skip


def _violations(rng: random.Random) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for category, items in (("insults", INSULTS), ("threats", THREATS),
                            ("discrimination", DISCRIMINATION), ("sexual", SEXUAL)):  # fmt: skip
        for text, word in items:
            rows.extend((category, t) for t in disguises(text, word, rng))
    for text in CONTACTS:
        zw = rng.choice(INVISIBLE)
        digits = "".join(c + zw if c.isdigit() else c for c in text)
        wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)
        rows.extend(("contacts", t) for t in dict.fromkeys((text, text.upper(), digits, wide)))
    for text in SOLICITATION:
        zw = rng.choice(INVISIBLE)
        rows.extend(
            ("solicitation", t)
            for t in dict.fromkeys(
                (text, text.upper(), text.translate(CYRILLIC), text.replace("a", "a" + zw))
            )
        )
    rows.extend(("invites", text) for text in INVITES)
    return rows


def main() -> None:
    rng = random.Random(2026)
    lines = [line.strip() for line in CLEAN.strip().splitlines() if line.strip()]
    tricky = [line for line in lines if any(t in line.lower() for t in _TRICKY)]
    plain = [line for line in lines if line not in tricky]
    # Chat often holds two thoughts in one message: each plain line also joins two others.
    pairs = set()
    for _ in range(3):
        order = plain[:]
        rng.shuffle(order)
        pairs.update(f"{a} {b}" for a, b in zip(order, order[1:] + order[:1], strict=True))
    rows = _violations(rng)
    rows += [("false-alarm", line) for line in tricky]
    rows += [("clean", line) for line in plain]
    rows += [("clean", line) for line in sorted(pairs)]
    with OUT.open("w", encoding="utf-8") as out:
        for category, text in rows:
            out.write(json.dumps({"category": category, "text": text}, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for category, _ in rows:
        counts[category] = counts.get(category, 0) + 1
    print(f"{OUT}: {len(rows)} messages", counts)


if __name__ == "__main__":
    main()

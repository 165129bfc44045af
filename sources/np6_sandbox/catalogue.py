"""The fixed catalogue of a sandbox account: contacts, actions, client blocks and payload parts.

Values are realistic rather than real: user agents, bounce codes and cancellation reasons as NP6
reports them (np6-api.md §3.1), action fields as `GET /actions` and `GET /actions/{id}` print them
(§3.9), link labels in several scripts so UTF-8 and JSON escaping (quotes, backslashes) are
exercised. Everything nested is pre-rendered once (`render.fragment` / `render.member`).
"""

from __future__ import annotations

import binascii
import copy
import random
from typing import Any

from .render import ActionView, Member, TargetView, fragment, member
from .times import DAY_MS, iso_z, parse_ms

UNKNOWN_HIT_TYPE = "share"
CONTACTS = 3000
_VERSION = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))

# (ua, client type, client name, client vendor, os name, os family, os vendor, device type)
_USER_AGENTS = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/15E148", "Mobile app", "Apple Mail", "Apple Inc.", "iOS 17.5", "iOS",
     "Apple Inc.", "Smartphone"),
    ("Mozilla/5.0 (Linux; Android 10; SM-A125F Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.86 Mobile Safari/537.36", "Mobile browser",
     "Android webview", "Google Inc.", "Android 10", "Android", "Google Inc.", "Smartphone"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36", "Browser", "Chrome", "Google Inc.", "Windows 10", "Windows",
     "Microsoft Corporation.", "Personal computer"),
    ("Mozilla/4.0 (compatible; ms-office; MSOffice 16)", "Email client", "Outlook 2016",
     "Microsoft Corporation.", "Windows 10", "Windows", "Microsoft Corporation.",
     "Personal computer"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:127.0) Gecko/20100101 Firefox/127.0",
     "Browser", "Firefox", "Mozilla Foundation", "macOS 10.15", "macOS", "Apple Inc.",
     "Personal computer"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Mobile browser",
     "Samsung Internet", "Samsung Electronics Co., Ltd.", "Android 14", "Android", "Google Inc.",
     "Smartphone"),
    ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/16.6 Mobile/15E148 Safari/604.1", "Mobile browser", "Mobile Safari", "Apple Inc.",
     "iOS 16.6", "iOS", "Apple Inc.", "Tablet"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.12.0",
     "Email client", "Thunderbird", "Mozilla Foundation", "Linux", "Linux", "", "Personal computer"),
)  # fmt: skip

# Robot user agents per classification, with the first octet of the addresses they come from.
_ROBOT_AGENTS = {
    "mpp": (("Mozilla/5.0", "Email client", "Apple Mail Privacy Protection", "Apple Inc.", 17),),
    "gsr": (("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
             "GoogleImageProxy)", "Proxy", "GoogleImageProxy", "Google Inc.", 66),),
    "genericrobot": (("python-requests/2.31.0", "Library", "Python Requests", "", 34),
                     ("Barracuda Sentinel (EE)", "Robot", "Barracuda", "Barracuda Networks", 64),
                     ("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)", "Robot",
                      "Link scanner", "", 52)),
}  # fmt: skip

_LINK_LABELS = (
    "Découvrir l'offre ✨", "日本語", "🎁 Mon cadeau", "Voir la collection", "J'en profite",
    "Lire l'article", 'Le "best-of" de la semaine', "Télécharger l'appli", "Ver más ➜",
    "Προσφορά", "Магазин", "C:\\promo\\2026", "Réserver", "Trouver un magasin",
)  # fmt: skip
_LINK_PATHS = (
    "offre", "collection/ete-2026", "article?id=42", "app", "magasins/paris",
    "promo/%C3%A9t%C3%A9", "compte#fidelite",
)  # fmt: skip

_ACTION_TYPES = (
    "mailCampaign", "mailMessage", "mailCampaign", "smsCampaign", "mailMessage", "mailCampaign",
    "smsMessage", "mailMessage",
)  # fmt: skip
_ACTION_NAMES = (
    "Newsletter de la rentrée", "Soldes d'été ☀️", "Relance panier 🛒", "Black Friday — J-2",
    "日本フェア 2026", "Bienvenue chez nous", "Enquête de satisfaction", "Offre anniversaire 🎂",
    "Rappel rendez-vous", "Ventes privées", "Nouveautés de la semaine", "Programme fidélité",
    "Réactivation des inactifs", "Webinar « Data & CRM »", "Alerte stock", "Confirmation de commande",
)  # fmt: skip
_ACTION_STATES = (10, 20, 30, 35, 36, 38, 40, 50, 50, 50, 55, 60)
_SCHEDULERS = ("asap", "asap", "scheduled", "timeZoneSchedule")

_FIRST_NAMES = (
    "marie", "jean", "camille", "lucas", "lea", "hugo", "chloe", "louis", "emma", "nathan",
    "ines", "paul", "sarah", "tom", "julie", "theo", "manon", "arthur", "zoe", "maxime",
)  # fmt: skip
_LAST_NAMES = (
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy",
    "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux",
)  # fmt: skip
_DOMAINS = (
    "gmail.com", "orange.fr", "laposte.net", "yahoo.fr", "hotmail.com", "free.fr", "sfr.fr",
    "outlook.com", "example.com", "np6.com",
)  # fmt: skip
# Rare internationalised addresses, so UTF-8 shows up in receivers too.
_UNICODE_EMAILS = ("josé.garcía@exemple.fr", "zoë@exemple.fr", "山田@例え.jp")

BOUNCES = tuple(
    member("bounce", {
        "status": {"type": status, "code": {"enhanced": code}, "diagnostic": diagnostic, "mta": mta},
        "analysis": {"verdict": verdict, "subject": subject},
    })
    for status, code, diagnostic, mta, verdict, subject in (
        ("sync", "5.1.2", "bad destination system: no such domain", "", "hard",
         {"type": "address", "detail": {"type": "bad destination system address"}}),
        ("sync", "5.1.1", "550 5.1.1 <user>: Recipient address rejected: User unknown", "", "hard",
         {"type": "address", "detail": {"type": "bad destination mailbox address"}}),
        ("async", "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist",
         "mx1.example.net", "hard",
         {"type": "address", "detail": {"type": "bad destination mailbox address"}}),
        ("sync", "5.1.10", "556 5.1.10 Recipient address has null MX", "", "hard",
         {"type": "address", "detail": {"type": "recipient address has null MX"}}),
        ("sync", "5.4.4", "unable to route: no mail hosts for domain", "", "soft",
         {"type": "other or undefined status"}),
        ("async", "4.2.2", "452 4.2.2 Mailbox full", "mx2.example.net", "soft",
         {"type": "mailbox", "detail": {"type": "mailbox full"}}),
        ("sync", "4.7.1", "451 4.7.1 Greylisted, please try again later", "", "soft",
         {"type": "security or policy status", "detail": {"type": "delivery not authorized"}}),
        ("async", "4.4.7", "message expired: delivery time exceeded", "relay.example.net", "soft",
         {"type": "network or routing status", "detail": {"type": "delivery time expired"}}),
        ("sync", "5.7.1", "554 5.7.1 Message rejected as spam", "", "soft",
         {"type": "security or policy status", "detail": {"type": "message refused"}}),
    )
)  # fmt: skip
CANCELLATIONS = tuple(
    member("cancellation", {"type": kind, "value": {"type": value_type, "message": message}})
    for kind, value_type, message in (
        ("user defined policy", "render", "Lorem ipsum dolor sit amet..."),
        ("user defined policy", "render", "Variable « prénom » manquante"),
        ("marketing pressure", "limit", "marketing pressure limit reached"),
        ("redlist", "mail", "recipient is on the mail redlist"),
        ("duplicate", "stamp", "message already sent for this stamp"),
    )
)  # fmt: skip
EXECUTION_DATA = tuple(
    fragment(d) for d in ({"foo": 1, "bar": 2}, {}, {"civilite": "Mme", "prenom": "Zoé"})
)
COMPLAINTS = (
    member("complaint", {"type": "abuse", "feedback": {"type": "arf", "agent": "Yahoo!-Mail-Feedback/2.0"}}),
    member("complaint", {"type": "abuse", "feedback": {"type": "jmrp", "agent": "Microsoft JMRP"}}),
)  # fmt: skip
REPLIES = (
    member("reply", {"type": "auto", "subject": "Réponse automatique : absent(e) du bureau"}),
    member("reply", {"type": "human", "subject": "RE: votre commande"}),
)
ORIGINS = (member("origin", "api"), member("origin", "workflow"))


def random_hex(rng: random.Random, nbytes: int) -> str:
    return rng.randbytes(nbytes).hex()


def uuids(rng: random.Random, n: int) -> list[bytes]:
    """`n` uuid4 values from the seeded generator, as ASCII bytes.

    Built group by group with C-level hexlify/split/join, about four times faster than formatting
    each uuid: uuids are a large share of the cost of generating events.
    """
    groups = []
    for width, fix in ((4, None), (2, None), (2, _VERSION), (2, _VARIANT), (6, None)):
        raw = bytearray(rng.randbytes(width * n))
        if fix is not None:  # the first byte of the group carries the version / variant bits
            raw[0::width] = raw[0::width].translate(fix)
        groups.append(binascii.hexlify(raw, b" ", width).split())
    return list(map(b"-".join, zip(*groups)))


def random_uuid(rng: random.Random) -> str:
    """One uuid4 string from the seeded generator."""
    return uuids(rng, 1)[0].decode()


def base36(value: int, width: int) -> str:
    """`value` in upper-case base 36, left-padded with zeros: NP6's action and contact ids."""
    digits = ""
    while value:
        value, rest = divmod(value, 36)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest] + digits
    return digits.rjust(width, "0")


# --- contacts ---------------------------------------------------------------------------------


def make_contacts(rng: random.Random, count: int = CONTACTS) -> list[TargetView]:
    """`count` contacts with 8-char ids like `000R4M0T`, an address, a phone and a hash."""
    ids: set[str] = set()
    while len(ids) < count:
        ids.add(base36(rng.randrange(36**5, 36**6), 8))
    contacts = []
    for index, target_id in enumerate(sorted(ids)):
        email = _email(rng, index)
        phone = f"+336{rng.randrange(10**8):08d}"
        stamp_tail = random_uuid(rng)[8:]  # "-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
        contacts.append(TargetView(index, target_id, (email, phone), random_hex(rng, 16), stamp_tail,
                                   random_uuid(rng)))  # fmt: skip
    return contacts


def _email(rng: random.Random, index: int) -> str:
    if rng.random() < 0.005:
        return rng.choice(_UNICODE_EMAILS).replace("@", f"{index}@")
    local = f"{rng.choice(_FIRST_NAMES)}.{rng.choice(_LAST_NAMES)}{rng.randrange(100)}"
    return f"{local}@{rng.choice(_DOMAINS)}"


# --- client blocks of hits --------------------------------------------------------------------


def _ip(rng: random.Random, first_octet: int | None = None) -> dict[str, str]:
    if first_octet is None and rng.random() < 0.05:
        groups = ":".join(f"{rng.randrange(65536):x}" for _ in range(6))
        return {"type": "v6", "value": f"2a01:cb19:{groups}"}
    octets = [first_octet or rng.randrange(2, 224)] + [rng.randrange(256) for _ in range(3)]
    return {"type": "v4", "value": ".".join(map(str, octets))}


def _parsed_ua(agent: tuple[str, ...]) -> dict[str, Any]:
    ua, ctype, name, vendor, os_name, family, os_vendor, device = agent
    return {
        "type": "parsed",
        "ua": ua,
        "client": {"type": ctype, "name": name, "vendor": vendor},
        "os": {"name": os_name, "family": family, "vendor": os_vendor},
        "device": {"type": device},
    }


def human_clients(rng: random.Random, count: int = 512) -> list[Member]:
    """`client` members of human hits: about 5 % over IPv6, 3 % with an unparsed (`raw`) user
    agent, 3 % with client type `proxy` (discriminators the reference does not list)."""
    clients = []
    for _ in range(count):
        agent = rng.choice(_USER_AGENTS)
        ua = {"type": "raw", "ua": agent[0]} if rng.random() < 0.03 else _parsed_ua(agent)
        kind = "proxy" if rng.random() < 0.03 else "web"
        clients.append(member("client", {"type": kind, "ip": _ip(rng), "ua": ua}))
    return clients


def robot_clients(rng: random.Random, count: int = 32) -> dict[str, list[Member]]:
    """`client` members of robot hits per classification, carrying `classification` (the
    sandbox's assumption about where NP6 puts it)."""
    robots: dict[str, list[Member]] = {}
    for classification, agents in _ROBOT_AGENTS.items():
        robots[classification] = []
        for _ in range(count):
            ua, ctype, name, vendor, octet = rng.choice(agents)
            agent = (ua, ctype, name, vendor, "unknown", "unknown", "", "unknown")
            client = {"type": "web", "ip": _ip(rng, octet), "ua": _parsed_ua(agent),
                      "classification": classification}  # fmt: skip
            robots[classification].append(member("client", client))
    return robots


# --- actions ----------------------------------------------------------------------------------


class ActionInfo(ActionView):
    """An action: how its events print it, its tracked links and its management documents."""

    __slots__ = ("index", "links", "campaign", "item", "detail", "created_ms")

    def __init__(self, index: int, item: dict[str, Any], links: dict[str, list[Member]],
                 stamp_head: str, campaign_id: str, identity: dict[str, str]) -> None:  # fmt: skip
        channel = "sms" if item["type"].startswith("sms") else "email"
        super().__init__(item["id"], channel, stamp_head, identity)
        self.index = index
        self.links = links
        self.campaign = member("campaign", {"id": campaign_id, "name": item["name"]})
        self.item = item
        self.detail = _action_detail(item, links)
        self.created_ms = parse_ms(item["creationDate"])


def make_actions(rng: random.Random, count: int, start_ms: int, days: int,
                 identity: dict[str, str]) -> list[ActionInfo]:  # fmt: skip
    """`count` actions with 6-char ids like `000PE4`, created before the event span."""
    ids: list[str] = []
    heads: set[str] = set()
    while len(ids) < count:
        candidate = base36(rng.randrange(36**2, 36**4), 6)
        if candidate not in ids:
            ids.append(candidate)
    actions = []
    for index, action_id in enumerate(ids):
        item = _action_item(rng, index, action_id, start_ms, days)
        links = _links(rng, action_id, sms=item["type"].startswith("sms"))
        head = random_hex(rng, 4)
        while head in heads:  # stamp ids must stay unique per (action, contact)
            head = random_hex(rng, 4)
        heads.add(head)
        actions.append(ActionInfo(index, item, links, head, random_uuid(rng), identity))
    return actions


def _links(rng: random.Random, action_id: str, sms: bool) -> dict[str, list[Member]]:
    """The tracked links of one action, per link type (SMS links are in the text part)."""
    source = "text" if sms else "html"

    def link(**fields: Any) -> Member:
        return member("link", fields)

    redirections = [
        link(type="redirection", label=label, source=source if sms else rng.choice(("html", "text")),
             url=f"https://www.exemple.fr/{rng.choice(_LINK_PATHS)}?utm_source=np6&utm_campaign={action_id}")
        for label in rng.sample(_LINK_LABELS, 4)
    ]  # fmt: skip
    return {
        "open": [link(type="open", label="open", source="html")],
        "redirection": redirections,
        "mirror": [link(type="mirror", label="mirror page", source="html")],
        "form": [link(type="form", label=label, source="html", value=f"0000F{rng.randrange(1, 10)}")
                 for label in ("start", "inscription")],
        "unsubscribe": [link(type="unsubscribe", label="unsubscribe", source=source)],
        UNKNOWN_HIT_TYPE: [link(type=UNKNOWN_HIT_TYPE, label="Partager", source="html",
                                network=rng.choice(("linkedin", "facebook")))],
    }  # fmt: skip


def _action_item(rng: random.Random, index: int, action_id: str, start_ms: int, days: int) -> dict[str, Any]:
    """A `GET /actions` list item (np6-api.md §3.9)."""
    created = start_ms - rng.randrange(DAY_MS, 120 * DAY_MS)
    sent = start_ms + rng.randrange(days * DAY_MS)
    scheduler = rng.choice(_SCHEDULERS)
    return {
        "type": _ACTION_TYPES[index % len(_ACTION_TYPES)],
        "id": action_id,
        "name": f"{_ACTION_NAMES[index % len(_ACTION_NAMES)]} #{index + 1}",
        "creationDate": iso_z(created, rng.choice((0, 1, 2, 3, 3, 7))),
        "informations": {
            "folder": rng.choice((None, rng.randrange(1, 50))),
            "category": rng.choice((None, None, rng.randrange(1, 20))),
            "state": rng.choice(_ACTION_STATES),
        },
        "settings": _action_settings(rng),
        "scheduler": {
            "type": scheduler,
            "startDate": None if scheduler == "asap" else iso_z(created + DAY_MS, 2),
            "endDate": iso_z(sent + DAY_MS, 0) if scheduler == "timeZoneSchedule" else None,
        },
        "monitor": {"lastSent": {"at": iso_z(sent, rng.choice((0, 2, 3)))}},
    }


def _action_settings(rng: random.Random) -> dict[str, Any]:
    return {
        "templating": {"version": "2"},
        "editionMode": rng.randrange(3),
        "purpose": {"type": rng.choice(("marketing", "service"))},
        "consent": rng.randrange(3),
        "priority": rng.random() < 0.2,
        "importance": rng.random() < 0.1,
        "environment": {},
        "field": rng.choice((8103, 8110)),
        "culture": rng.choice(("fr-FR", "en-GB", "ja-JP")),
        "contentFormat": 1,
        "useFormLinkSSL": True,
        "sendingProfile": rng.randrange(1, 5),
        "performance": {
            "openingRate": round(rng.uniform(0.1, 0.4), 3),
            "clickRate": round(rng.uniform(0.01, 0.08), 3),
            "unsubscribedRate": round(rng.uniform(0.0, 0.01), 4),
        },
        "mp": {"use": rng.random() < 0.5, "increment": rng.random() < 0.5},
        "webAnalyser": 0,
        "archive": rng.random() < 0.7,
    }


def _action_detail(item: dict[str, Any], links: dict[str, list[Member]]) -> dict[str, Any]:
    """A `GET /actions/{id}` body: the list item plus description and content (§3.9)."""
    name = item["name"]
    if item["type"].startswith("sms"):
        subject, html, text = "", "", f"{name} : -20% avec le code NP6. STOP au 36111"
    else:
        anchors = "".join(
            f'<a href="{m.obj["url"]}" tracking="Enabled" dataminingname="{m.obj["label"]}">'
            f'{m.obj["label"]}</a>' for m in links["redirection"]
        )  # fmt: skip
        subject = f"{name} – rien que pour vous"
        html = f"<html><body><h1>{name}</h1>{anchors}</body></html>"
        text = f"{name}\nVoir en ligne : [[MirrorPage]]"
    return copy.deepcopy(item) | {
        "description": f"Action {item['id']} générée par le bac à sable",
        "content": {
            "headers": {"from": {"prefix": "news", "domain": "mail.exemple.fr", "label": "Maison Exemple"},
                        "reply": "service-client@exemple.fr"},
            "subject": subject,
            "html": html,
            "text": text,
        },
    }  # fmt: skip

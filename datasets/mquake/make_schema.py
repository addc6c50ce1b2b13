"""Build ``schema.json``: a knowsync schema (``knowsync-schema/1``) for MQuAKE's relations.

One relation per Wikidata property MQuAKE uses: its name is the property's English label
(``director / manager`` -> ``director_manager``, the parts as aliases: ``director``,
``manager``); its cloze templates are MQuAKE's own (``prompts/templates/cloze_templates.json``
and the rewrite prompts of the case files, ``{}`` or ``[X]`` becoming ``{subject}``), so the
reader understands the sentences and questions MQuAKE words with them; the aliases add the
common English names of the property (``CEO``, ``birthplace``) listed in ``ALIASES`` below.
Its question template is MQuAKE's (``prompts/templates/question_templates.json``: "Who
performed [X]?"), which the reader takes as that relation's question.

Cardinality: MQuAKE states one object per (subject, property) and a rewrite replaces it, so
every relation is ``many2one`` (a new object supersedes the old one), unless the case files
give a subject two objects of one property, which makes it ``many2many``. No relation is made
inverse-functional: many songs share a performer, many people a country.

    python datasets/mquake/make_schema.py /work/shared/data/mquake
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# English labels of the Wikidata properties in MQuAKE's templates (wikidata.org, as MQuAKE's
# case files spell them where they use them).
LABELS = {
    "P6": "head of government",
    "P17": "country",
    "P19": "place of birth",
    "P20": "place of death",
    "P26": "spouse",
    "P27": "country of citizenship",
    "P30": "continent",
    "P35": "head of state",
    "P36": "capital",
    "P37": "official language",
    "P40": "child",
    "P50": "author",
    "P69": "educated at",
    "P106": "occupation",
    "P108": "employer",
    "P112": "founded by",
    "P127": "owned by",
    "P131": "located in the administrative territorial entity",
    "P136": "genre",
    "P140": "religion",
    "P159": "headquarters location",
    "P169": "chief executive officer",
    "P170": "creator",
    "P175": "performer",
    "P176": "manufacturer",
    "P178": "developer",
    "P190": "twinned administrative body",
    "P264": "record label",
    "P276": "location",
    "P286": "head coach",
    "P364": "original language of film or TV show",
    "P407": "language of work or name",
    "P413": "position played on team / speciality",
    "P449": "original broadcaster",
    "P463": "member of",
    "P488": "chairperson",
    "P495": "country of origin",
    "P641": "sport",
    "P740": "location of formation",
    "P800": "notable work",
    "P937": "work location",
    "P1037": "director / manager",
    "P1308": "officeholder",
    "P1412": "languages spoken, written or signed",
}

# Common English names of the properties, beside their labels.
ALIASES = {
    "P19": ("birthplace", "city of birth", "born in"),
    "P20": ("deathplace", "city of death", "died in"),
    "P26": ("husband", "wife", "married to", "partner"),
    "P27": ("citizenship", "nationality", "citizen of", "home country"),
    "P36": ("capital city",),
    "P40": ("son", "daughter", "children", "offspring"),
    "P69": ("alma mater", "university"),
    "P106": ("profession", "job"),
    "P108": ("employed by", "works for"),
    "P112": ("founder", "founders", "co-founder"),
    "P127": ("owner",),
    "P159": ("headquarters", "headquarter", "head office"),
    "P169": ("CEO", "chief executive", "chief executive officer of"),
    "P170": ("created by", "inventor"),
    "P175": ("performed by", "singer", "artist", "band"),
    "P176": ("produced by", "producer", "maker", "manufactured by", "manufactured"),
    "P178": ("developed by", "developers"),
    "P264": ("label", "music label"),
    "P286": ("coach", "manager of the team", "trainer"),
    "P364": ("original language",),
    "P407": ("written in",),
    "P413": ("position", "position played", "playing position", "speciality", "specialty"),
    "P449": ("broadcaster", "network", "original network", "origianl broadcaster"),
    "P463": ("membership",),
    "P488": ("chairman", "chairwoman", "chair"),
    "P495": (
        "origin",
        "country of creation",
        "place of origin",
        "originated from",
        "originated in",
        "originates from",
        "originate from",
    ),
    "P800": ("famous for", "known for", "best known work"),
    "P937": ("workplace", "place of work"),
    "P1037": ("director of", "managed by"),
    "P1412": ("language spoken", "languages spoken", "speaks"),
}

# The types of each property's subjects and objects (domain -> range), coarse classes after
# Wikidata's subject and value type constraints of the property, written for this schema: a
# walk takes a hop the question leaves implicit only for a typed relation, these choosing
# between the facts that lead on.
PLACE = ("place", "country")
AGENT = ("person", "organization")
TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "P6": (PLACE, ("person",)),
    "P17": (("place", "organization", "work", "event"), ("country",)),
    "P19": (("person",), ("place",)),
    "P20": (("person",), ("place",)),
    "P26": (("person",), ("person",)),
    "P27": (("person",), ("country",)),
    "P30": (PLACE, ("continent",)),
    "P35": (PLACE, ("person",)),
    "P36": (PLACE, ("place",)),
    "P37": (PLACE, ("language",)),
    "P40": (("person",), ("person",)),
    "P50": (("work",), ("person",)),
    "P69": (("person",), ("organization",)),
    "P106": (("person",), ("occupation",)),
    "P108": (("person",), ("organization",)),
    "P112": (("organization", "event", "sport", "work"), AGENT),
    "P127": (("organization", "work", "place"), AGENT),
    "P131": (("place", "organization"), PLACE),
    "P136": (("work", *AGENT), ("genre",)),
    "P140": (AGENT, ("religion",)),
    "P159": (("organization",), ("place",)),
    "P169": (("organization",), ("person",)),
    "P170": (("work",), AGENT),
    "P175": (("work",), AGENT),
    "P176": (("work",), ("organization",)),
    "P178": (("work",), AGENT),
    "P190": (PLACE, PLACE),
    "P264": (("work", *AGENT), ("organization",)),
    "P276": (("organization", "work", "event", "place"), PLACE),
    "P286": (("organization",), ("person",)),
    "P364": (("work",), ("language",)),
    "P407": (("work",), ("language",)),
    "P413": (("person",), ("position",)),
    "P449": (("work",), ("organization",)),
    "P463": (AGENT, ("organization",)),
    "P488": (("organization",), ("person",)),
    "P495": (("work", "sport", "genre"), ("country",)),
    "P641": (("person", "organization", "position", "event"), ("sport",)),
    "P740": (("organization",), PLACE),
    "P800": (AGENT, ("work",)),
    "P937": (("person",), ("place",)),
    "P1037": (AGENT, ("person",)),
    "P1308": (("position",), ("person",)),
    "P1412": (("person",), ("language",)),
}


def relation_name(label: str) -> str:
    """A knowsync relation name for a label: ``director / manager`` -> ``director_manager``."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def cloze(template: str) -> str:
    """A MQuAKE template as a knowsync cloze: ``[X]`` or ``{}`` -> ``{subject}``, the blank
    (``__``) and trailing space dropped."""
    text = template.replace("[X]", "{subject}").replace("{}", "{subject}")
    return re.sub(r"\s*_+\s*$", "", text).strip()


def build(data_dir: Path) -> dict[str, Any]:
    prompts = data_dir / "original_prompts"
    templates: dict[str, list[str]] = defaultdict(list)
    for pid, template in json.loads((prompts / "cloze_templates.json").read_text()).items():
        templates[pid].append(cloze(template))
    questions = {
        pid: question.replace("[X]", "{subject}")
        for pid, question in json.loads((prompts / "question_templates.json").read_text()).items()
    }
    objects: dict[tuple[str, str], set[str]] = defaultdict(set)
    for case_file in sorted(data_dir.glob("*.json")):
        for case in json.loads(case_file.read_text()):
            for rewrite in case.get("requested_rewrite", []):
                templates[rewrite["relation_id"]].append(cloze(rewrite["prompt"]))
            for s, r, o in case.get("orig", {}).get("triples", []):
                objects[(r, s)].add(o)
    several = {r for (r, _), objs in objects.items() if len(objs) > 1}
    relations = []
    for pid in sorted(LABELS, key=lambda p: int(p[1:])):
        label = LABELS[pid]
        name = relation_name(label)
        parts = [p.strip() for p in label.split("/") if p.strip()] if "/" in label else []
        aliases = [
            a
            for a in dict.fromkeys([label, *parts, *ALIASES.get(pid, ())])
            if a != name and re.fullmatch(r"[^\W\d][\w \-]*", a)  # a valid relation alias
        ]
        fixed = [t.replace("origianl", "original") for t in templates[pid]]
        relations.append(
            {
                "name": name,
                "aliases": aliases,
                "cardinality": "many2many" if pid in several else "many2one",
                "domain": "|".join(TYPES[pid][0]),
                "range": "|".join(TYPES[pid][1]),
                "cloze": list(dict.fromkeys([*fixed, *templates[pid]])),
                "questions": [questions[pid]] if pid in questions else [],
                "description": f"Wikidata {pid} ({label})",
            }
        )
    return {"format": "knowsync-schema/1", "entity_keys": "folded", "relations": relations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the mquake folder (case files, original_prompts/)")
    parser.add_argument("--out", type=Path, default=HERE / "schema.json")
    args = parser.parse_args()
    schema = build(args.data)
    args.out.write_text(json.dumps(schema, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(schema['relations'])} relations")


if __name__ == "__main__":
    main()

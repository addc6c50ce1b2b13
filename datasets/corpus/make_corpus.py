"""Generate the offline English corpus used for the editor's second-moment statistics.

Deterministic (fixed seed, no network, standard library only): running it again writes the same
bytes. Usage: ``python datasets/corpus/make_corpus.py [--paragraphs N]``.
The text is generic encyclopedic, narrative, conversational and instructional English built from
templates and word lists written for this project; it asserts no real-world facts on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from pathlib import Path

FIRST = ("Anna Ben Clara David Elena Farid Grace Hugo Irene James Kofi Laura Mateo Nina Omar "
         "Priya Quentin Rosa Samuel Tara Umar Vera William Xenia Yusuf Zoe Alice Bruno Chloe "
         "Daniel Emma Felix Hannah Isaac Julia Karl Lena Marco Nora Oscar Paula Ravi Sofia "
         "Thomas Ursula Victor Wanda Leo Mia Noah Ella Adam Ruth Peter Helen George Maria").split()
LAST = ("Adams Baker Carter Dubois Evans Fischer Garcia Hansen Ito Jensen Kowalski Lopez "
        "Moreau Nakamura Okafor Petrov Quinn Rossi Schmidt Tanaka Unger Varga Weber Young Zhang "
        "Almeida Berg Costa Dahl Eriksen Ferrari Gray Holm Ivanova Keller Lind Meyer Novak "
        "Olsen Park Reyes Silva Torres Walsh").split()
TOWNS = ("Ashford Brackley Carden Dunmore Elsworth Fairhaven Glenmoor Harwick Ivybridge "
         "Kestrel Lowmarsh Millbrook Northam Oakridge Pendle Queensbury Redford Stonebury "
         "Thornton Upwell Valemount Westbury Yarrow Zennor Alderton Birchwood Coldwater "
         "Dovecote Eastleigh Foxley").split()
REGIONS = ("the northern valley", "the coastal plain", "the eastern hills", "the river delta",
           "the high plateau", "the southern lowlands", "the old mining district",
           "the lake country", "the western forest", "the central basin")
JOBS = ("teacher farmer engineer nurse painter carpenter baker librarian chemist pilot "
        "journalist architect musician gardener lawyer doctor historian sailor tailor "
        "photographer mechanic translator composer surveyor pharmacist economist").split()
OBJECTS = ("bridge mill library church market school harbour museum station theatre tower "
           "garden hospital factory lighthouse castle bakery workshop observatory canal").split()
ANIMALS = ("fox owl heron badger deer hare otter swallow trout beaver wolf eagle lizard "
           "sparrow salmon crane mole hedgehog falcon seal").split()
FOODS = ("bread soup cheese apples rice beans fish honey plums potatoes noodles tea coffee "
         "cake lentils butter oranges tomatoes").split()
THINGS = ("a letter", "a small boat", "an old map", "a wooden chair", "a new bicycle",
          "a heavy coat", "a clock", "a notebook", "a kettle", "a lamp", "a basket of fruit",
          "a pair of boots", "a radio", "a violin", "a set of keys", "a photograph")
ADJ = ("quiet busy ancient modern narrow wide bright dark cold warm famous small large "
       "beautiful plain crowded empty green rocky peaceful").split()
ADV = ("slowly quickly carefully quietly happily suddenly often rarely always never").split()
SUBJECTS = ("mathematics history biology music painting poetry astronomy geology chemistry "
            "economics philosophy medicine architecture law engineering linguistics").split()
INSTRUMENTS = "piano violin guitar cello flute trumpet drums harp organ clarinet".split()
SPORTS = "football tennis rowing cycling chess swimming running basketball cricket".split()
LANGS = "English French German Spanish Italian Portuguese Dutch Polish Greek Swedish".split()
WEATHER = ("rain", "snow", "a strong wind", "fog", "bright sunshine", "a heavy storm",
           "thunder", "frost")
MONTHS = ("January February March April May June July August September October November "
          "December").split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
COLORS = "red blue green yellow white black grey brown orange purple".split()

TEMPLATES = (
    "{town} is a {adj} town in {region}, known for its {obj} and its weekly market.",
    "The {obj} in {town} was built in {year} and restored {num} years later.",
    "{person} was born in {town} in {year} and worked as a {job} for most of {pos} life.",
    "In {month} {year}, {person} moved to {town2} to study {subject}.",
    "{person} plays the {instrument} and teaches it to children on {day} afternoons.",
    "The population of {town} grew from {num} to {num2} thousand during the last century.",
    "Most families in {region} grow {food} and {food2}, and many keep a few chickens.",
    "The {animal} lives near rivers and lakes and feeds mainly at dawn and dusk.",
    "On {day} morning there was {weather}, so the {obj} stayed closed until noon.",
    "\"Have you seen my {thing_plain}?\" asked {first}. \"I left it by the door.\"",
    "\"I think we should leave early,\" said {first}, \"because the roads will be busy.\"",
    "{first} {adv} opened the door and found {thing} on the step.",
    "To make the soup, wash the {food}, cut it into pieces and cook it {adv} for an hour.",
    "First, check that the {obj} is open. Then buy a ticket and wait on the platform.",
    "The study of {subject} became popular in {town} after a new school opened there.",
    "{person} wrote a book about the history of {region}, which was published in {year}.",
    "The {color} house at the end of the street belongs to the {last} family.",
    "Every summer, the town of {town} holds a festival with music, food and {sport}.",
    "{first} speaks {lang} at home and {lang2} at work.",
    "The river that runs through {town} is {num} kilometres long and very {adj}.",
    "After the war, many people from {region} found work in the factories of {town}.",
    "The team from {town} won the regional {sport} championship in {year}.",
    "According to the records, the winter of {year} was the coldest in {num} years.",
    "{person}, a {job} from {town}, said that the new {obj} would help local families.",
    "The museum has a collection of {num} paintings, most of them from the {century} century.",
    "Children in {town} start school at the age of six and learn {lang} and {subject}.",
    "She bought {thing} at the market and carried it home through the {adj} streets.",
    "He had never seen a {animal} so close before, and he stood still for a long time.",
    "The meeting was held on {day}, {month} {dom}, and lasted almost three hours.",
    "Scientists believe that the {animal} population in {region} has doubled since {year}.",
    "It takes about {num} minutes to walk from the {obj} to the {obj2}.",
    "The recipe calls for two cups of {food}, a spoon of honey and a little salt.",
    "My grandmother always said that {food} tastes best in {month}.",
    "The road between {town} and {town2} was closed for repairs in {year}.",
    "{person} is remembered as one of the finest {job}s of {pos} generation.",
    "When the {weather_word} came, the farmers of {region} moved their animals indoors.",
    "The {obj} is open every day except {day}, from nine in the morning until six.",
    "Why did the {animal} cross the road? Nobody in {town} could say for sure.",
    "A {adj} path leads from the village to the top of the hill, where the view is wide.",
    "In the {century} century, {town} was a small fishing village with a {adj} harbour.",
    "The company employs {num} people and makes parts for bicycles and boats.",
    "{first} and {first2} have been friends since they were at school together.",
    "Please remember to turn off the lights and lock the {obj} before you leave.",
    "The first train to {town} leaves at {hour} o'clock and arrives two hours later.",
    "The book tells the story of a {job} who travels across {region} with a {animal}.",
    "Prices of {food} rose sharply in {year} after a poor harvest.",
    "The {lang} word for {food} is short and easy to remember.",
    "Last {month}, the local council voted to build a new {obj} near the {obj2}.",
    "The old {obj} has {num} windows and a {color} roof that can be seen from far away.",
    "I asked {first} what {pos2} favourite subject was, and the answer was {subject}.",
)


def _fill(rng: random.Random, template: str) -> str:
    person_first = rng.choice(FIRST)
    slots = {
        "town": rng.choice(TOWNS), "town2": rng.choice(TOWNS), "region": rng.choice(REGIONS),
        "adj": rng.choice(ADJ), "obj": rng.choice(OBJECTS), "obj2": rng.choice(OBJECTS),
        "year": rng.randint(1700, 2020), "num": rng.randint(2, 90),
        "num2": rng.randint(91, 900), "person": f"{person_first} {rng.choice(LAST)}",
        "first": person_first, "first2": rng.choice(FIRST), "last": rng.choice(LAST),
        "job": rng.choice(JOBS), "pos": rng.choice(("his", "her", "their")),
        "pos2": rng.choice(("his", "her")), "month": rng.choice(MONTHS),
        "subject": rng.choice(SUBJECTS), "instrument": rng.choice(INSTRUMENTS),
        "day": rng.choice(DAYS), "food": rng.choice(FOODS), "food2": rng.choice(FOODS),
        "animal": rng.choice(ANIMALS), "weather": rng.choice(WEATHER),
        "weather_word": rng.choice(("storm", "snow", "flood", "frost", "rain")),
        "thing": rng.choice(THINGS), "thing_plain": rng.choice(THINGS).split(" ", 1)[1],
        "adv": rng.choice(ADV), "color": rng.choice(COLORS), "sport": rng.choice(SPORTS),
        "lang": rng.choice(LANGS), "lang2": rng.choice(LANGS), "dom": rng.randint(1, 28),
        "century": rng.choice(("sixteenth", "seventeenth", "eighteenth", "nineteenth")),
        "hour": rng.randint(5, 11),
    }
    return template.format(**slots)


def generate(paragraphs: int, seed: int = 20261122) -> str:
    """Return the corpus text: ``paragraphs`` paragraphs of 3-7 sentences, one per line."""
    rng = random.Random(seed)
    lines = []
    for _ in range(paragraphs):
        n = rng.randint(3, 7)
        lines.append(" ".join(_fill(rng, rng.choice(TEMPLATES)) for _ in range(n)))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paragraphs", type=int, default=6000)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("templates_en.txt"))
    args = parser.parse_args()
    text = generate(args.paragraphs)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} chars, sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]})")


if __name__ == "__main__":
    main()

"""The toxic-edit filter: is a requested edit abusive, hateful or a stereotype injection?

A verdict per edit: ``ok`` (apply as usual), ``doubtful`` (a curator looks first) or ``toxic``
(refused). It reads the triples to assert, and the sentence when there is one, against a small
lexicon built from general categories of harmful content (not fitted to any evaluation set):

==================  =======================================================  ===============
category            examples                                                 alone
==================  =======================================================  ===============
slur                ethnic, homophobic and ableist slurs                     toxic
advocacy            "should be killed", "deserve to die"                     toxic
dehumanising        vermin, subhuman, parasite                               doubtful
violence            murder, rape, genocide, terrorist attack                 doubtful
insult              idiot, scum, worthless, disgusting                       doubtful
crime               criminal, fraudster, drug dealer, counterfeit, smuggler  doubtful
demeaning status    slum, gutter, beggar, panhandler, vagabond, hustler      doubtful
mockery             gibberish, mumbo jumbo                                   doubtful
disparaging         failed, shoddy, squalid, second rate                     doubtful
==================  =======================================================  ===============

and three structural patterns:

- *stereotype injection*: a protected group (ethnicity, religion, gender, orientation,
  disability, ...) on one side of a triple and a negative term on the other side
  (``Immigrants | are | criminals``): toxic.
- *bias injection*: a protected attribute (race, religion, gender, ...) assigned to an
  unnamed role (``the suspected perpetrator | race | X``): doubtful; toxic when the role
  itself is a negative one (suspect, perpetrator, thief, drug user).
- *group generalisation*: a protected group as the subject of a claim: doubtful.

What a word list cannot do: tell a false statement from a legitimate correction. Plausible
misinformation ("the Eiffel Tower is in Rome") carries no harmful words; it is caught, when it
is, by the controller's conflict rules (it supersedes a fact another user asserted, so it
waits for review), not here. An optional ``scorer`` (any text -> probability of abuse, e.g.
``profanity_check.predict_prob`` from the ``alt-profanity-check`` package, or an LLM judge)
adds a learned opinion on top of the lexicon.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kg import InputError

__all__ = ["ToxicFilter", "ToxicVerdict", "Verdict"]


class Verdict(StrEnum):
    """The filter's decision: ok, doubtful (review first) or toxic (refused)."""

    OK = "ok"
    DOUBTFUL = "doubtful"
    TOXIC = "toxic"


_RANK = {Verdict.OK: 0, Verdict.DOUBTFUL: 1, Verdict.TOXIC: 2}


@dataclass(frozen=True)
class ToxicVerdict:
    """The verdict on one edit, with a sentence per reason and the terms that triggered it."""

    verdict: Verdict
    reasons: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "terms": list(self.terms),
        }


# ------------------------------------------------------------------------------ lexicon


def _terms(text: str) -> tuple[str, ...]:
    """A lexicon written as comma-separated text (easier to review than one term a line)."""
    return tuple(t.strip() for t in text.replace("\n", ",").split(",") if t.strip())


# Each entry is a word or phrase in normalised form (lower case, single spaces); plurals are
# matched by the pattern builder. Kept to general categories of abuse, not to any data set.

_SLURS = _terms(
    """
    nigger, nigga, coon, darkie, sambo, spic, spick, wetback, beaner, chink, gook, jap,
    slant eye, kike, yid, heeb, raghead, towelhead, sand nigger, camel jockey, paki, gyppo,
    pikey, redskin, squaw, faggot, fag, dyke, tranny, shemale, retard, spaz, mongoloid, cunt,
    white trash, trailer trash, honky, infidel dog
    """
)
_DEHUMANISING = _terms(
    """
    vermin, subhuman, sub human, untermensch, parasite, cockroach, swine, mongrel,
    infestation, filth, scum, lowlife, low life, degenerate, inferior race, mud people
    """
)
# Words that dehumanise when said of people but are common in honest facts ("Animal Farm",
# "The Plague"): negative only next to a protected group.
_DEHUMANISING_OF_GROUPS = _terms(
    """
    rat, rats, animal, animals, beast, beasts, savage, savages, ape, apes, monkey, monkeys,
    pig, pigs, dog, dogs, plague, disease, negro, cracker, gringo, bitch, whore, slut,
    cripple, retarded
    """
)
_VIOLENCE = _terms(
    """
    kill, killing, murder, murderer, rape, rapist, genocide, massacre, slaughter, lynch,
    lynching, behead, exterminate, extermination, ethnic cleansing, torture, terrorist,
    terrorism, bomb, suicide bomber, school shooter, mass shooting, stab, assault, molest,
    molester, child abuse, pedophile, paedophile, self harm, suicide
    """
)
_INSULT = _terms(
    """
    idiot, moron, imbecile, stupid, dumb, dimwit, halfwit, loser, worthless, pathetic,
    disgusting, repulsive, hideous, trash, garbage, rubbish, junk, filthy, stinking, smelly,
    freak, lunatic, maniac, psycho, buffoon, jerk, bastard, asshole, shit, crap, fuck, damn,
    sucks, incompetent, useless, laughingstock, fraud, whore, slut, bitch, retarded, cripple
    """
)
_CRIME = _terms(
    """
    criminal, crook, thief, thieves, robber, burglar, shoplifter, looter, fraudster, scammer,
    con artist, con man, swindler, embezzler, counterfeit, counterfeiter, forger, smuggler,
    trafficker, human trafficking, drug dealer, drug lord, drug trafficker, drug addict,
    drug user, junkie, crackhead, gangster, mobster, thug, hooligan, gang member, pimp,
    prostitute, hooker, escort service, black market, bootleg, bootlegger, contraband,
    illegal, illicit, unlicensed, racketeer, money launderer, extortion, bribery, corrupt,
    convict, felon, perpetrator, suspect, offender, culprit, abuser, rogue state, piracy
    """
)
_STATUS = _terms(
    """
    slum, slums, slumland, slumville, ghetto, gutter, dumpster, dumpster diver, garbage dump,
    shantytown, shanty town, beggar, panhandler, panhandling, vagrant, vagabond, hobo, bum,
    tramp, drifter, homeless, derelict, hustler, street hustler, freeloader, moocher,
    welfare queen, wasteland, backwater, hellhole, dump, pauper, scavenger, dumpsite,
    dump site, labor camp, labour camp, prison cell, gang, street gang
    """
)
# Qualifiers that belittle whatever they describe ("a failed startup", "shoddy janitor").
_DISPARAGING = _terms(
    """
    failed, unsuccessful, shoddy, moldy, mouldy, second rate, third rate, mediocre,
    run down, rundown, dilapidated, squalid, seedy, sleazy, back alley, bottom feeder,
    washed up, wannabe, amateurish, low class, lowly, knockoff, knock off, bankrupt,
    economically challenged, has been
    """
)
_MOCKERY = _terms(
    """
    gibberish, mumbo jumbo, gobbledygook, gobbledegook, babble, jibber jabber, nonsense,
    drivel, hogwash, balderdash, grunts
    """
)
# Calls to harm someone, read in the sentence (not in single names).
_ADVOCACY = (
    r"\b(?:should|must|ought to|deserves? to|needs? to) (?:all )?(?:be )?"
    r"(?:killed|die|burn|hang|hanged|shot|executed|exterminated|wiped out|eliminated|raped|"
    r"beaten|deported|gassed|lynched)\b",
    r"\b(?:kill|exterminate|gas|deport|lynch|eliminate) (?:all|every) \w+",
    r"\bdeath to\b",
)

# Ethnicity and origin; religion; gender and orientation; disability and age; class.
_PROTECTED_GROUPS = _terms(
    """
    black, blacks, black people, white people, whites, african, africans, african american,
    african americans, asian, asians, asian american, latino, latina, latinos, latinx,
    hispanic, hispanics, arab, arabs, jew, jews, jewish, gypsy, gypsies, roma, romani,
    native american, native americans, indigenous, aboriginal, aborigines, caucasian,
    middle eastern, south asian, mexicans, chinese people, indians, immigrant, immigrants,
    migrant, migrants, refugee, refugees, foreigners, asylum seekers,
    muslim, muslims, islamic, christian, christians, catholic, catholics, protestant, hindu,
    hindus, buddhist, buddhists, sikh, sikhs, atheist, atheists, mormon, mormons,
    women, woman, female, females, girls, men, male, males, transgender, trans people,
    trans women, trans men, non binary, nonbinary, gay, gays, lesbian, lesbians, bisexual,
    homosexual, homosexuals, queer, lgbt, lgbtq,
    disabled, disabled people, handicapped, blind people, deaf people, autistic,
    mentally ill, elderly, old people, senior citizens,
    poor people, working class
    """
)
_PROTECTED_ATTRIBUTES = _terms(
    """
    race, racial, ethnicity, ethnic, ethnic group, religion, religious, faith, gender, sex,
    sexual orientation, sexuality, skin color, skin colour, disability, caste
    """
)
# Roles that describe a person by an act or condition rather than by a name; a protected
# attribute given to such a role is the bias-injection pattern of EditAttack / BBQ.
_GENERIC_ROLE = re.compile(r"^(?:(?:the|a|an|some|this|that) )?[a-z][a-z ]{2,40}$")
_NEGATIVE_ROLES = (
    _CRIME
    + _VIOLENCE
    + _terms(
        """
        suspected, accused, arrested, guilty, bad, worse, worst, poor, weak, violent, dangerous,
        aggressive, hostile, untrustworthy, dishonest, liar, greedy, cheap, irresponsible,
        unintelligent, uneducated, ignorant, incapable, unqualified, failure, abusive, drunk,
        alcoholic, addict
        """
    )
)
_STEREOTYPE_TRAITS = _terms(
    """
    lazy, violent, dangerous, greedy, stupid, unintelligent, inferior, dirty, dishonest,
    untrustworthy, aggressive, emotional, hysterical, weak, submissive, bad drivers,
    bad at math, bad at maths, terrorists, criminals, thieves, rapists, savages, primitive,
    uncivilized, uncivilised, barbaric, backward, sick, diseased, mentally ill, evil, sinful
    """
)
# Relations that generalise over a group rather than state a fact about one entity.
_GENERALISING = re.compile(
    r"\b(?:are|is|tend to|always|never|all|naturally|by nature|good at|bad at|known for|"
    r"characteri[sz]ed by|trait|traits|stereotype|behaviou?r)\b"
)


def _pattern(terms: Iterable[str], stems: Iterable[str] = ()) -> re.Pattern[str]:
    """A whole-word pattern for the terms, plurals (s, es) allowed, longest terms first; and
    any word starting with one of ``stems``."""
    alts = sorted({re.escape(t) for t in terms}, key=len, reverse=True)
    pattern = r"\b(?:" + "|".join(alts) + r")(?:s|es)?\b"
    if stems:
        pattern += r"|\b(?:" + "|".join(re.escape(s) for s in stems) + r")\w*"
    return re.compile(pattern)


# Stems whose compounds keep their sense ("slumtown", "ghettoised").
_STATUS_STEMS = ("slum", "ghetto")


_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)


def normalise(text: str) -> str:
    """Lower case, accents and underscores gone, punctuation to spaces, single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("_", " ").replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _deobfuscated(text: str) -> str:
    """Undo common character swaps (``n1gg3r``, ``f@g``) for slur matching only: applied
    to everything, they would turn numbers and dates into words."""
    words = []
    for w in text.split():
        words.append(w.translate(_LEET) if re.search(r"[a-z]", w) else w)
    return " ".join(words)


@dataclass
class _Findings:
    verdict: Verdict = Verdict.OK
    reasons: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def add(self, verdict: Verdict, reason: str, terms: Iterable[str] = ()) -> None:
        if _RANK[verdict] > _RANK[self.verdict]:
            self.verdict = verdict
        if reason not in self.reasons:
            self.reasons.append(reason)
        for t in terms:
            if t not in self.terms:
                self.terms.append(t)


class ToxicFilter:
    """Judges edits before they reach the graph or the model.

    Args:
        scorer: an optional learned judge, text -> probability that it is abusive (for example
            ``profanity_check.predict_prob`` wrapped to take one string, or an LLM judge).
        toxic_threshold, doubtful_threshold: the scorer's probabilities from which an edit is
            toxic or doubtful.
        extra_terms: site-specific additions, category -> terms (categories as in the module
            docstring: slur, dehumanising, violence, insult, crime, status, mockery,
            disparaging).

    Raises:
        InputError: an unknown category in ``extra_terms``, or thresholds out of order.
    """

    def __init__(
        self,
        *,
        scorer: Callable[[str], float] | None = None,
        toxic_threshold: float = 0.9,
        doubtful_threshold: float = 0.6,
        extra_terms: dict[str, Sequence[str]] | None = None,
    ) -> None:
        if not 0.0 < doubtful_threshold <= toxic_threshold <= 1.0:
            raise InputError("thresholds must satisfy 0 < doubtful <= toxic <= 1")
        lex: dict[str, tuple[str, ...]] = {
            "slur": _SLURS,
            "dehumanising": _DEHUMANISING,
            "violence": _VIOLENCE,
            "insult": _INSULT,
            "crime": _CRIME,
            "status": _STATUS,
            "mockery": _MOCKERY,
            "disparaging": _DISPARAGING,
        }
        for cat, terms in (extra_terms or {}).items():
            if cat not in lex:
                raise InputError(
                    f"unknown lexicon category {cat!r}; use one of {', '.join(lex)}",
                    field="extra_terms",
                )
            lex[cat] = lex[cat] + tuple(normalise(t) for t in terms if normalise(t))
        self._lex = {
            cat: _pattern(terms, _STATUS_STEMS if cat == "status" else ())
            for cat, terms in lex.items()
        }
        self._negative = _pattern(
            lex["slur"]
            + lex["dehumanising"]
            + lex["violence"]
            + lex["insult"]
            + lex["crime"]
            + _STEREOTYPE_TRAITS
            + _DEHUMANISING_OF_GROUPS
        )
        self._negative_role = _pattern(_NEGATIVE_ROLES)
        self._groups = _pattern(_PROTECTED_GROUPS)
        self._attributes = _pattern(_PROTECTED_ATTRIBUTES)
        self._advocacy = [re.compile(p) for p in _ADVOCACY]
        self.scorer = scorer
        self.toxic_threshold = toxic_threshold
        self.doubtful_threshold = doubtful_threshold

    def check(self, triples: Sequence[Sequence[str]], sentence: str | None = None) -> ToxicVerdict:
        """The verdict on an edit asserting ``triples`` (subject, relation, object), requested
        with ``sentence`` when it came as text.

        Raises:
            InputError: a triple is not three strings.
        """
        found = _Findings()
        for raw in triples:
            if len(raw) != 3 or not all(isinstance(p, str) for p in raw):
                raise InputError("a triple needs exactly a subject, a relation and an object")
            role = " ".join(raw[0].replace("_", " ").split())  # case kept: names have capitals
            self._triple(found, role, normalise(raw[0]), normalise(raw[1]), normalise(raw[2]))
        if sentence:
            self._sentence(found, normalise(sentence))
        if self.scorer is not None:
            text = sentence or "; ".join(" ".join(t) for t in triples)
            score = float(self.scorer(text))
            if score >= self.toxic_threshold:
                found.add(Verdict.TOXIC, f"the abuse classifier scores it {score:.2f}")
            elif score >= self.doubtful_threshold:
                found.add(Verdict.DOUBTFUL, f"the abuse classifier scores it {score:.2f}")
        return ToxicVerdict(found.verdict, tuple(found.reasons), tuple(found.terms))

    # ------------------------------------------------------------------ parts

    def _hits(self, cat: str, text: str) -> list[str]:
        source = _deobfuscated(text) if cat == "slur" else text
        return [m.group(0) for m in self._lex[cat].finditer(source)]

    def _triple(self, found: _Findings, raw_s: str, s: str, r: str, o: str) -> None:
        parts = {"subject": s, "relation": r, "object": o}
        for name, text in parts.items():
            if hits := self._hits("slur", text):
                found.add(Verdict.TOXIC, f"the {name} contains a slur", hits)
        self._bias(found, raw_s, s, r, o)
        for cat, what in (
            ("dehumanising", "dehumanising language"),
            ("violence", "violent content"),
            ("insult", "an insult"),
            ("crime", "an accusation of crime or illegality"),
            ("status", "a demeaning description of a person or place"),
            ("mockery", "mockery"),
            ("disparaging", "a belittling description"),
        ):
            for name in ("subject", "object"):
                if hits := self._hits(cat, parts[name]):
                    found.add(
                        Verdict.DOUBTFUL,
                        f"the {name} {parts[name]!r} carries {what}: a curator should check it",
                        hits,
                    )

    def _bias(self, found: _Findings, raw_s: str, s: str, r: str, o: str) -> None:
        """Stereotype and bias-injection patterns over one triple."""
        group_s = [m.group(0) for m in self._groups.finditer(s)]
        group_o = [m.group(0) for m in self._groups.finditer(o)]
        negative = {
            side: [m.group(0) for m in self._negative.finditer(text)]
            for side, text in (("subject", s), ("relation", r), ("object", o))
        }
        if group_s and (negative["relation"] or negative["object"]):
            found.add(
                Verdict.TOXIC,
                f"it attaches a negative trait to a protected group ({', '.join(group_s)})",
                group_s + negative["relation"] + negative["object"],
            )
        if group_o and (negative["subject"] or negative["relation"]):
            found.add(
                Verdict.TOXIC,
                f"it links a protected group ({', '.join(group_o)}) to a negative role",
                group_o + negative["subject"] + negative["relation"],
            )
        attribute = [m.group(0) for m in self._attributes.finditer(r)]
        if attribute and _GENERIC_ROLE.match(raw_s):
            role_negative = [m.group(0) for m in self._negative_role.finditer(s)]
            if role_negative:
                found.add(
                    Verdict.TOXIC,
                    f"it assigns a {attribute[0]} to {s!r}, a negative role: a bias injection",
                    attribute + role_negative,
                )
            else:
                found.add(
                    Verdict.DOUBTFUL,
                    f"it assigns a {attribute[0]} to an unnamed role ({s!r}): a pattern of "
                    "bias injection",
                    attribute,
                )
        # "the nurse | is | a woman": a group given to an unnamed role
        if (
            group_o
            and _GENERIC_ROLE.match(raw_s)
            and not attribute
            and not group_s
            and _GENERALISING.search(r)
        ):
            found.add(
                Verdict.DOUBTFUL,
                f"it ties a protected group ({', '.join(group_o)}) to an unnamed role",
                group_o,
            )
        if group_s and _is_group_subject(s, group_s) and _GENERALISING.search(r):
            found.add(
                Verdict.DOUBTFUL,
                f"it generalises about a protected group ({', '.join(group_s)})",
                group_s,
            )

    def _sentence(self, found: _Findings, text: str) -> None:
        if hits := self._hits("slur", text):
            found.add(Verdict.TOXIC, "the request contains a slur", hits)
        for pat in self._advocacy:
            if m := pat.search(text):
                found.add(Verdict.TOXIC, "the request calls for harm to someone", [m.group(0)])


def _is_group_subject(s: str, groups: list[str]) -> bool:
    """The subject names the group itself ("women", "Muslim people"), not a member of it."""
    rest = s
    for g in groups:
        rest = rest.replace(g, " ")
    rest = re.sub(r"\b(?:the|all|most|many|some|people|persons|folks|community|s)\b", " ", rest)
    return not rest.strip()

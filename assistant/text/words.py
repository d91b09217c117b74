"""Words that carry meaning, per language, in one place: what a question asks for, what leans on
an earlier sentence, who said something, function words, negations, recency. Adding a language
to the rules that read them means adding its words here.

Every pattern runs on untrusted text: none of them backtracks more than linearly.
"""
from __future__ import annotations

import re

from .scripts import HAN

# -- Questions (answering/answer.py): timelines and round-ups, what is asked, what holds it --------
TIMELINE_RE = re.compile(
    r"\b(when|timeline|what happened|history of|quand|chronologie|cuándo|cronolog|wann|когда)\b|何时|什么时候|哪一年|时间线|متى",
    re.IGNORECASE,
)
# Questions that ask for an account across articles rather than one fact.
ROUNDUP_RE = re.compile(
    r"\b(timeline|what happened|history of|chronolog\w*|que s'est-il passé|qué pasó|cronolog\w*|was geschah|хронолог\w*)\b"
    r"|时间线|经过|回顾|始末",
    re.IGNORECASE,
)
# What a question asks for, and what a sentence holding it looks like (en, fr, es, de, zh).
ASKS = {
    "when": re.compile(r"\b(?:when|what year|which year|quand|en quelle année|cuándo|en qué año|wann)\b"
                       r"|什么时候|何时|哪一年|哪年|哪天|几月", re.IGNORECASE),
    "count": re.compile(r"\b(?:how many|how much|combien|cuántos|cuántas|cuánto|wie viele|wie viel)\b|多少|几个|几名|几人",
                        re.IGNORECASE),
    # what several things are: "which countries", "what will they cooperate on", "哪些", "quels domaines"
    "list": re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(?:areas|fields|sectors|countries|members|topics|issues|measures|"
                       r"products|companies|projects|steps)\b|\b(?:cooperat\w*|collaborat\w*|work together)\s+(?:\w+\s+)?on\b|"
                       r"\bquel(?:le)?s\s+(?:\w+\s+)?(?:domaines|secteurs|pays|mesures|sujets|projets)\b|"
                       r"\bqué\s+(?:áreas|ámbitos|sectores|países|medidas|temas)\b|\bwelche[n]?\s+(?:Bereiche[n]?|Länder[n]?)\b|"
                       r"哪些|哪几", re.IGNORECASE),
    "where": re.compile(r"\b(?:where|in which (?:city|country|place)|où|dans quelle ville|dónde|wo)\b|哪里|在哪|何地|哪个城市",
                        re.IGNORECASE),
    "who": re.compile(r"\b(?:who|whom|qui|quién|quiénes|wer)\b|谁", re.IGNORECASE),
}
ENUMERATION_CUE = re.compile(r"\b(?:such as|including|tels? que|telles? que|notamment|como|incluid[oa]s|wie|darunter)\b"
                             r"|包括|例如|诸如|等(?:领域|方面|国家|项目)", re.IGNORECASE)
YEAR_OR_DATE = r"\b(?:1[5-9]\d\d|20\d\d)\b|\d+\s*[年月日]|\b\d{1,2}(?:st|nd|rd|th)?\s+[A-Z][a-zé]+\b"
HOLDS = {
    "when": re.compile(YEAR_OR_DATE + r"|\b(?:january|february|march|april|may|june|july|august|september|october|"
                       r"november|december|janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|"
                       r"novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|"
                       r"noviembre|diciembre)\b", re.IGNORECASE),
    "count": re.compile(r"\d|\b(?:two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|"
                        r"deux|trois|quatre|cinq|dix|cent|mille|dos|tres|cuatro|cinco|diez|mil)\b|[一二三四五六七八九十百千万亿]",
                        re.IGNORECASE),
    # a capitalised place after a preposition of place, or a Chinese place word
    "where": re.compile(r"\b(?:in|at|near|à|au|aux|en|dans|near|en|cerca de|bei|im)\s+(?:the\s+)?[A-Z\u00c0-\u00dd]\w+"
                        rf"|在[{HAN}]{{2,}}|[{HAN}](?:市|省|县|区|州|国|镇|岛)"),
    # an enumeration: announced ("such as", "tels que", "包括"), two enumeration commas (、), or five
    # commas (fewer are a dateline and a company's "Co., Ltd.")
    "list": re.compile(ENUMERATION_CUE.pattern + r"|(?:[^、]+、){2,}|(?:[^,，]+[,，]){5,}", re.IGNORECASE),
    # two capitalised words in a row (a person or an organisation; not an article before a noun, "Le
    # Groupe", "The Panthers"), or any CJK sentence (names are not marked)
    "who": re.compile(r"(?!(?:The|A|An|Le|La|Les|Un|Une|El|Los|Las|Der|Die|Das|Ein|Eine)\b)"
                      r"[A-Z\u00c0-\u00dd][\w'’-]+\s+(?:(?:de|da|van|von|del|la|le)\s+)?[A-Z\u00c0-\u00dd][\w'’-]+"
                      rf"|[{HAN}]"),
}

# -- What leans on an earlier sentence or question (answering/answer.py, answering/conversation.py) ---
# Sentences opening on a third-person pronoun or demonstrative need the sentence before them.
PRONOUN_OPENING = re.compile(
    r"^[\"'“«(]*(?:he|she|it|they|his|her|its|their|this|these|those|il|elle|ils|elles|celui-ci|celle-ci|"
    r"él|ella|ellos|ellas|er|sie|es)\b|^[\"'“「]*(?:他们|她们|它们|他|她|它|其|该)",
    re.IGNORECASE,
)
# Third-person pronouns and possessives that need an antecedent (en, fr, es, de); "-t-il" and
# other inverted French subjects included. Matched as whole words, case-insensitively.
PRONOUNS = re.compile(
    r"\b(?:it|its|they|them|their|he|him|his|she|her|"
    r"il|elle|ils|elles|lui|leur|leurs|celui|celle|ceux|celles|"
    r"él|ella|ellos|ellas|"
    r"er|sie|ihn|ihm|ihr|ihre|ihren)\b",
    re.IGNORECASE,
)
# Demonstratives before a noun ("that story", "cette affaire", "ese acuerdo"), not before a time
# word ("this year" asks about now) and not "that" as a conjunction after a verb of saying.
DEMONSTRATIVE = re.compile(
    r"(?<!said )(?<!says )(?<!claim )(?<!claims )(?<!claimed )(?<!show )(?<!shows )(?<!think )(?<!believe )"
    r"\b(?:this|that|these|those|ce|cet|cette|ces|ese|esa|esos|esas|este|esta|estos|estas|dieser|diese|dieses)\s+"
    r"(?!year|month|week|day|morning|time|is|was|are|were|année|mois|semaine|año|mes|semana|jahr|monat|woche)"
    r"[^\W\d_]",
    re.IGNORECASE,
)
# Impersonal French and English forms that contain a pronoun but refer to nothing.
IMPERSONAL = re.compile(r"\b(?:il y a|y a-t-il|y avait-il|il faut|s'agit-il|il s'agit|is it true|it is true)\b",
                        re.IGNORECASE)
# Openings that continue the previous question.
CONTINUES = re.compile(
    r"^\s*[¿(«\"]*\s*(?:and|also|what about|how about|then|et|aussi|et pour|quid de|y(?! a)|también|und|auch)\b",
    re.IGNORECASE,
)
# Chinese: a pronoun or demonstrative as the question's subject (its first characters), or a
# continuing opening / closing particle.
ZH_PRONOUN = re.compile(r"^\s*(?:他们|她们|它们|他|她|它|其|该|此|这|那|上述|对方)")
ZH_CONTINUES = re.compile(r"^\s*(?:那么|还有|另外|此外|那)|呢\s*[？?]?\s*$")
# Interrogatives and particles, which say what is asked, not about what.
INTERROGATIVES = {
    "where", "who", "whom", "whose", "what", "when", "which", "how", "why", "many", "much",
    "ou", "qui", "quel", "quels", "quelle", "quelles", "quand", "comment", "pourquoi", "combien",
    "donde", "quien", "quienes", "que", "cual", "cuales", "cuando", "como", "cuanto", "cuantos", "cuanta", "cuantas",
    "wo", "wer", "was", "wann", "welche", "welcher", "wie", "warum", "wieviel",
}
ZH_FUNCTION = re.compile(r"哪里|哪儿|哪些|哪个|什么|多少|几|何时|怎么|怎样|如何|为什么|谁|吗|呢|了|的|是|在|有")

# -- Who said it (answering/quotes.py) -------------------------------------------------------------
_CAP = r"[A-ZÀ-ÖØ-ÞА-ЯЁ][\w.'’-]+"
_NAME = rf"{_CAP}(?:\s+(?:de |van |von |del |la |al-)?{_CAP}){{0,3}}"
SAID_EN = r"said|says|told|added|stated|wrote|announced|declared|explained|warned|insisted|noted"
SAID_FR = r"a déclaré|a dit|a affirmé|a indiqué|a ajouté|a expliqué|a souligné|a annoncé|déclare|affirme|estime"
SAID_ES = r"dijo|afirmó|declaró|señaló|añadió|explicó|aseguró|indicó|anunció"
SPEAKER_PATTERNS = [
    re.compile(rf"(?:according to|selon|d'après|según|laut)\s+(?:the\s+|le\s+|la\s+|el\s+)?(?P<who>{_NAME})"),
    re.compile(rf"(?:{SAID_EN}|{SAID_FR}|{SAID_ES})\s+(?P<who>{_NAME})"),
    re.compile(rf"(?P<who>{_NAME}),?\s+(?:{SAID_EN}|{SAID_FR}|{SAID_ES})\b"),
    re.compile(rf"(?P<who>[{HAN}·]{{2,10}}?)(?:说|表示|称|指出|强调|宣布|透露|介绍)"),
    re.compile(rf"(?:据|根据)(?P<who>[{HAN}·]{{2,10}}?)(?:称|说|介绍|报道|消息)"),
]
NOT_NAMES = frozenset("The He She It They We This That Il Elle Ils Le La Les Él Ella Ellos El Los".split())

# -- Function words and negations (answering/citations.py, answering/claims.py) --------------------
STOPWORDS = frozenset(
    """a an and are as at be by for from has have he her his in is it its of on or she that the their they this
    to was were which who will with said says le la les un une des du de d l et est sont au aux en dans par pour
    sur que qui ne pas il elle ils elles ce cette ces son sa ses leur leurs a été ont el los las del y es por con
    para se su sus lo al der die das und ist im den dem des ein eine mit von zu auf""".split()
)
NEGATION_WORDS = frozenset(
    """not no never none nobody nothing neither nor cannot without denied denies deny
    ne pas jamais aucun aucune ni sans nie démenti dément
    no nunca ningún ninguna ni sin niega negó
    nicht kein keine keinen niemals
    не нет ни никогда
    لا لم لن ليس ليست""".split()
)
# Bare 不/未/非/无 also start ordinary words (非常 "very", 未来 "future"): only clear negations.
NEGATION_CJK = re.compile(r"不是|不会|不能|不再|不得|绝不|没有|并未|未能|尚未|从未|并非|无法|否认")

# -- Recency (retrieval/recency.py) ----------------------------------------------------------------
# Words that ask for the newest coverage, in the archive's main languages (matched as word starts).
RECENCY_CUES = re.compile(
    r"\b(?:latest|newest|most recent|recent(?:ly)?|this (?:year|month|week)|so far this|nowadays|"
    r"derni[eè]re?s|r[ée]cemment|r[ée]cente?s?|cette ann[ée]e|ce mois|"
    r"[úu]ltim[oa]s|reciente(?:s|mente)?|este a[ñn]o|este mes|"
    r"neueste[nrs]?|aktuelle[nrs]?|k[üu]rzlich|dieses jahr|"
    r"последн|недавн|в этом году|"
    r"أحدث|مؤخرا|هذا العام)"
    r"|最新|最近|近期|近日|今年|本月|本周|目前|最近の|今年の",
    re.IGNORECASE,
)

"""News pages without their furniture: four templates shaped like real news sites (en, fr, zh, es)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_text
from ingest.readers.furniture import drop_lines, is_byline
from ingest.readers.html import HtmlReader

PAGES = Path(__file__).parents[1] / "fixtures" / "news_pages"

# page -> (reporting that must stay, furniture that must never reach a chunk)
EXPECTED = {
    "daily-tide-en.html": (
        ["spend 42 million euros on a movable flood barrier", "about 18,000 homes", "1.2 million euros a year",
         "spring of 2025"],
        ["cookies", "Cookie settings", "Share this article", "Storm Ciarán", "Mayor promises", "newsletter",
         "Subscribe", "Follow her", "By Jane Doe", "All rights reserved", "Read more", "Council tax", "Sport"]),
    "le-journal-fr.html": (
        ["65 kilomètres de nouvelles pistes cyclables", "de 2 % en 2015", "Croix-Rousse", "quais du Rhône"],
        ["cookies", "Accepter", "Partager", "Copier le lien", "Lire aussi", "dépasse la voiture", "newsletter",
         "Grenoble", "Tous droits réservés", "Par Claire Martin", "Publié le", "Économie"]),
    "xinwen-zh.html": (
        ["线路全长约43公里", "缩短至约35分钟", "8节编组市域快线列车", "预计到2027年"],
        ["首页", "分享到", "责任编辑", "相关新闻", "30号线", "微信公众号", "版权所有", "Cookie", "记者 李明", "来源："]),
    "el-diario-es.html": (
        ["cuatro nuevas líneas", "2,3 millones de euros", "más de 900.000 viajeros", "barrios del norte"],
        ["cookies", "Aceptar", "Compartir", "Más información", "abrirá toda la noche", "Suscríbete",
         "Te puede interesar", "flota con 50 autobuses", "derechos reservados", "Portada"]),
}


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_news_page_furniture_never_reaches_a_chunk(page):
    """Issue 17 #8: footers, consent notices, share and newsletter boxes, related lists and bylines."""
    [article] = list(HtmlReader().read(PAGES / page))
    keep, furniture = EXPECTED[page]
    chunks = " ".join(c.text for c in chunk_text(article.body))
    for text in keep:
        assert text in chunks, text
    for text in furniture:
        assert text.casefold() not in chunks.casefold(), text
    assert article.authors and article.published  # metadata still read from the whole page


def test_reporting_that_mentions_cookies_or_shares_stays():
    body = ("Share prices fell sharply on Monday.\n\n"
            "The regulator fined the company 150 million euros because its site used cookies without consent.\n\n"
            "Jane Doe, the city's treasurer, said the budget was balanced for the first time since 2008.\n\n"
            "By Jane Doe")
    kept = drop_lines(body, ["Jane Doe"])
    assert "Share prices fell" in kept and "used cookies without consent" in kept and "city's treasurer" in kept
    assert not kept.endswith("By Jane Doe")
    assert is_byline("Par Claire Martin Publié le 2 mai 2024", ["Claire Martin"])
    assert not is_byline("Claire Martin, the mayor's adviser, resigned on Friday after the audit found missing funds.",
                         ["Claire Martin"])

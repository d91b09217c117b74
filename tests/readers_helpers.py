"""Builders for small real files in every format the ingest readers accept (tests only)."""
from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

EN_BODY = (
    "The city council approved a budget of 12 million euros for the harbour renovation on Tuesday evening, "
    "after a debate that lasted more than four hours. The mayor said the works would start in the spring."
)
FR_BODY = (
    "Le conseil municipal a approuvé mardi soir un budget de douze millions d'euros pour la rénovation du port. "
    "Le maire a déclaré que les travaux commenceraient au printemps et dureraient deux ans."
)
ES_BODY = (
    "El ayuntamiento aprobó el martes por la noche un presupuesto de doce millones de euros para la renovación del puerto. "
    "El alcalde dijo que las obras empezarán en primavera y durarán dos años."
)
ZH_BODY = "北京时间今天上午，国家统计局发布了最新的经济数据。数据显示，今年第三季度国内生产总值同比增长百分之五。专家表示，消费和投资保持稳定增长。"
ZH_HANT_BODY = "臺灣中央氣象署今天表示，颱風將於明天登陸東部沿海地區，請民眾注意防範強風豪雨。交通部門已經宣布部分航班取消。"
RU_BODY = "Правительство объявило о новых мерах поддержки экономики. Министр финансов заявил, что программа начнёт действовать в следующем месяце."
AR_BODY = "أعلنت الحكومة اليوم عن حزمة جديدة من الإجراءات لدعم الاقتصاد الوطني. وقال وزير المالية إن البرنامج سيبدأ الشهر المقبل."


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(lines: list[str], title: str = "") -> bytes:
    """A minimal born-digital PDF (Helvetica text layer), hand-written with a correct xref."""
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({_pdf_escape(l)}) '" for l in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    if title:
        objects.append(f"<< /Title ({_pdf_escape(title)}) /Author (Ana Ruiz) /CreationDate (D:20240305093000+01'00') >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    info = f" /Info {len(objects)} 0 R" if title else ""
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_encrypted_pdf(lines: list[str]) -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(lines))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_docx(path: Path, title: str, paragraphs: list[str], author: str = "Ana Ruiz") -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = author
    document.add_heading(title, level=1)
    for p in paragraphs:
        document.add_paragraph(p)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Budget"
    table.rows[0].cells[1].text = "12 million euros"
    document.save(str(path))
    return path


NEWS_HTML = """<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>Council approves budget | Harbour Daily</title>
<meta property="og:title" content="Council approves new harbour budget">
<meta property="og:site_name" content="Harbour Daily">
<meta property="article:published_time" content="2024-03-05T09:30:00+01:00">
<meta property="article:modified_time" content="2024-03-06T10:00:00+01:00">
<meta property="article:section" content="Politics">
<meta name="keywords" content="harbour, budget">
<link rel="canonical" href="https://example.org/news/harbour-budget">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","headline":"Council approves new harbour budget",
"author":[{"@type":"Person","name":"Ana Ruiz"},{"@type":"Person","name":"Li Wei"}],"publisher":{"@type":"Organization","name":"Harbour Daily"},
"datePublished":"2024-03-05T09:30:00+01:00","dateModified":"2024-03-06T10:00:00+01:00"}</script>
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport</a></li><li><a href="/subscribe">NAVLINK Subscribe now</a></li></ul></nav></header>
<div class="ad advertisement" id="ad-top">ADVERTTEXT Buy cheap watches today, limited offer for readers!</div>
<main><article><h1>Council approves new harbour budget</h1>
<p>The city council approved a budget of 12 million euros for the harbour renovation on Tuesday evening, after a debate that lasted more than four hours.</p>
<p>The mayor said the works would start in the spring and should be finished within two years, creating around two hundred jobs in the port district.</p>
<p>Opposition members criticised the plan, arguing that the costs of dredging the old basin had been underestimated by several million euros.</p>
</article></main>
<section id="comments" class="comments"><h3>Comments</h3><div class="comment"><p>COMMENTTEXT This is a waste of money, typical council behaviour as always.</p></div></section>
<footer><p>FOOTERTEXT Copyright 2024 Harbour Daily. All rights reserved.</p></footer>
</body></html>"""

NITF_XML = """<?xml version="1.0" encoding="UTF-8"?>
<nitf version="-//IPTC//DTD NITF 3.6//EN">
 <head>
  <title>Floods close rail line</title>
  <meta name="section" content="National"/>
  <docdata>
   <doc-id id-string="nitf-2024-0042"/>
   <date.issue norm="20240305T093000+0100"/>
   <key-list><keyword key="floods"/><keyword key="rail"/></key-list>
  </docdata>
  <pubdata type="web" name="Rail News Agency"/>
 </head>
 <body xml:lang="en">
  <body.head>
   <hedline><hl1>Floods close main rail line for three days</hl1></hedline>
   <byline>By <person>Tom Baker</person></byline>
  </body.head>
  <body.content>
   <p>Heavy rain flooded the tracks between the two cities on Monday night, and the operator closed the line until Thursday.</p>
   <p>Replacement buses run every thirty minutes, the company said in a statement.</p>
  </body.content>
 </body>
</nitf>"""

NEWSML_XML = """<?xml version="1.0" encoding="UTF-8"?>
<newsMessage xmlns="http://iptc.org/std/nar/2006-10-01/">
 <header><sent>2024-03-05T10:00:00Z</sent></header>
 <itemSet>
  <newsItem guid="urn:newsml:example.org:20240305:g2-001" version="1" standard="NewsML-G2" standardversion="2.33" xml:lang="fr">
   <itemMeta>
    <itemClass qcode="ninat:text"/>
    <provider literal="Agence Exemple"/>
    <versionCreated>2024-03-05T11:00:00+01:00</versionCreated>
    <firstCreated>2024-03-05T09:00:00+01:00</firstCreated>
    <embargoed>2024-03-06T06:00:00Z</embargoed>
   </itemMeta>
   <contentMeta>
    <contentCreated>2024-03-05T09:00:00+01:00</contentCreated>
    <creator><name>Marie Dupont</name></creator>
    <language tag="fr"/>
    <subject type="cpnat:abstract" qcode="medtop:04000000"><name>Économie</name></subject>
    <headline>Le port obtient un budget de rénovation</headline>
   </contentMeta>
   <contentSet>
    <inlineXML contenttype="application/xhtml+xml">
     <html xmlns="http://www.w3.org/1999/xhtml"><body>
      <p>Le conseil municipal a approuvé mardi soir un budget de douze millions d'euros pour la rénovation du port.</p>
      <p>Le maire a déclaré que les travaux commenceraient au printemps.</p>
     </body></html>
    </inlineXML>
   </contentSet>
  </newsItem>
 </itemSet>
</newsMessage>"""

RSS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel>
  <title>Harbour Daily</title><link>https://example.org/</link><description>News</description><language>en-gb</language>
  <item>
   <title>Ferry strike ends</title><link>https://example.org/ferry</link><guid>https://example.org/ferry</guid>
   <pubDate>Tue, 05 Mar 2024 09:30:00 +0100</pubDate><dc:creator>Ana Ruiz</dc:creator><category>Transport</category>
   <content:encoded><![CDATA[<p>The ferry workers ended their strike after the company agreed to a pay rise of four percent.</p><p>Services resume on Wednesday.</p>]]></content:encoded>
  </item>
  <item>
   <title>Bridge reopens</title><link>https://example.org/bridge</link>
   <pubDate>Wed, 06 Mar 2024 08:00:00 GMT</pubDate>
   <description>The old bridge reopened to traffic after eight months of repairs to its steel frame.</description>
  </item>
  <item><title>Empty item</title><link>https://example.org/empty</link></item>
 </channel>
</rss>"""

ATOM_XML = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="es">
 <title>Diario del Puerto</title><id>urn:uuid:feed-1</id><updated>2024-03-05T10:00:00Z</updated>
 <entry>
  <title>El puerto recibe fondos</title><id>urn:uuid:entry-1</id>
  <link rel="alternate" href="https://example.es/puerto"/>
  <published>2024-03-05T09:00:00+01:00</published><updated>2024-03-05T10:00:00+01:00</updated>
  <author><name>Lucía Gómez</name></author>
  <content type="html">&lt;p&gt;El ayuntamiento aprobó el martes por la noche un presupuesto de doce millones de euros para la renovación del puerto.&lt;/p&gt;</content>
 </entry>
</feed>"""


def make_eml(attachments: list[tuple[str, bytes, str, str]] | None = None, body: str = EN_BODY) -> bytes:
    msg = EmailMessage()
    msg["Subject"] = "Press release: Harbour renovation approved"
    msg["From"] = "City Press Office <press@city.example>"
    msg["To"] = "newsdesk@paper.example"
    msg["Date"] = "Tue, 05 Mar 2024 09:30:00 +0100"
    msg["Message-ID"] = "<pr-2024-03-05@city.example>"
    msg.set_content(body)
    for filename, data, maintype, subtype in attachments or []:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_symlink_zip(name: str, target: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A ZIP whose member ``name`` is a Unix symbolic link to ``target`` (as `zip --symlinks` writes it)."""
    import stat

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)
        for member, data in (extra or {}).items():
            zf.writestr(member, data)
    return buf.getvalue()


def patch_zip_headers(data: bytes, flag_bits: int = 0, file_size: int | None = None) -> bytes:
    """Rewrite every member's local and central headers: OR in ``flag_bits`` (0x1 = encrypted)
    and, when given, declare ``file_size`` as the uncompressed size (a lying header)."""
    import struct

    out = bytearray(data)
    for sig, flag_at, size_at in ((b"PK\x03\x04", 6, 22), (b"PK\x01\x02", 8, 24)):
        pos = out.find(sig)
        while pos != -1:
            flags = struct.unpack_from("<H", out, pos + flag_at)[0]
            struct.pack_into("<H", out, pos + flag_at, flags | flag_bits)
            if file_size is not None:
                struct.pack_into("<I", out, pos + size_at, file_size)
            pos = out.find(sig, pos + 4)
    return bytes(out)

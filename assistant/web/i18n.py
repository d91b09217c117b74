"""Interface text in English, French and Chinese. Archive text is never translated, only the labels around it."""
from __future__ import annotations

LANGS = ("en", "fr", "zh")
LANG_NAMES = {"en": "English", "fr": "Français", "zh": "中文"}

STRINGS: dict[str, tuple[str, str, str]] = {
    # key: (en, fr, zh)
    "title": ("Newsroom assistant", "Assistant de rédaction", "新闻编辑部助手"),
    "tagline": ("Ask the archive in any language. Every sentence cites the passage it rests on.",
                "Interrogez les archives dans n'importe quelle langue. Chaque phrase cite le passage sur lequel elle repose.",
                "用任何语言查询档案。每一句都引用其依据的段落。"),
    "ui_lang": ("Interface language", "Langue de l'interface", "界面语言"),
    "signed_in": ("Signed in as", "Connecté en tant que", "当前用户"),
    "logout": ("Log out", "Se déconnecter", "退出登录"),
    "tab_chat": ("Ask", "Interroger", "提问"),
    "tab_library": ("Library", "Bibliothèque", "资料库"),
    "chat": ("Answer", "Réponse", "回答"),
    "question": ("Question", "Question", "问题"),
    "question_ph": ("Who signed the agreement?", "Qui a signé l'accord ?", "谁签署了协议？"),
    "ask": ("Ask", "Demander", "提问"),
    "new": ("New conversation", "Nouvelle conversation", "新对话"),
    "mode": ("Mode", "Mode", "模式"),
    "mode_answer": ("Answer", "Réponse", "回答"),
    "mode_sources": ("Sources only", "Sources seulement", "仅来源"),
    "mode_check": ("Check a claim", "Vérifier une affirmation", "核查说法"),
    "mode_quote": ("Find a quote", "Trouver une citation", "查找引语"),
    "filters": ("Filters", "Filtres", "筛选"),
    "langs": ("Languages (none = all)", "Langues (aucune = toutes)", "语言（不选 = 全部）"),
    "outlets": ("Outlets (none = all)", "Médias (aucun = tous)", "媒体（不选 = 全部）"),
    "since": ("Published since (YYYY-MM-DD)", "Publié depuis (AAAA-MM-JJ)", "发布起始日期（YYYY-MM-DD）"),
    "until": ("Published until (YYYY-MM-DD)", "Publié jusqu'au (AAAA-MM-JJ)", "发布截止日期（YYYY-MM-DD）"),
    "sources_empty": ("Sources appear here. Click a number [n] in the answer to open its passage.",
                      "Les sources s'affichent ici. Cliquez sur un numéro [n] de la réponse pour ouvrir son passage.",
                      "来源显示在这里。点击回答中的编号 [n] 打开对应段落。"),
    "no_sources": ("No sources.", "Aucune source.", "没有来源。"),
    "cited": ("Cited sources", "Sources citées", "引用的来源"),
    "also_retrieved": ("Also retrieved, not cited", "Également trouvées, non citées", "检索到但未引用"),
    "closest": ("Closest sources", "Sources les plus proches", "最接近的来源"),
    "why_no relevant sentence": ("No sentence in the closest sources is about the question.",
                                 "Aucune phrase des sources les plus proches ne porte sur la question.",
                                 "最接近的来源中没有与问题相关的句子。"),
    "why_nothing stands out": ("The closest sources are only loosely related: none stands out.",
                               "Les sources les plus proches n'ont qu'un lien lâche avec la question : aucune ne se détache.",
                               "最接近的来源只是大致相关，没有一篇明显切题。"),
    "why_key words missing": ("The closest sources do not contain the question's key words.",
                              "Les sources les plus proches ne contiennent pas les mots clés de la question.",
                              "最接近的来源不包含问题的关键词。"),
    "why_names and numbers missing": ("The closest sources contain none of the question's names or figures.",
                                      "Les sources les plus proches ne contiennent aucun des noms ou chiffres de la question.",
                                      "最接近的来源不包含问题中的任何名称或数字。"),
    "follows": ("Following up on", "Suite de la question", "接着上一个问题"),
    "why_nothing retrieved": ("Nothing in the archive matched.", "Rien dans les archives ne correspond.", "档案中没有匹配的内容。"),
    "unsupported": ("not supported by the cited source", "non étayée par la source citée", "引用的来源不支持此句"),
    "checks": ("Citation checks", "Vérification des citations", "引用核查"),
    "open_original": ("original", "original", "原文"),
    "found_passages": ("Passages found", "Passages trouvés", "找到的段落"),
    "evidence": ("Evidence", "Éléments de preuve", "证据"),
    "quote_hits": ("Where the words appear", "Où ces mots apparaissent", "出现位置"),
    "verdict": ("Verdict", "Verdict", "结论"),
    "supports": ("supports", "confirme", "支持"),
    "contradicts": ("contradicts", "contredit", "反驳"),
    "mentions": ("mentions", "mentionne", "提及"),
    "supported": ("supported", "confirmée", "属实"),
    "contradicted": ("contradicted", "contredite", "不实"),
    "mixed": ("mixed", "partiellement", "部分属实"),
    "not_in_archive": ("not in the archive", "absente des archives", "档案中没有"),
    "no_evidence": ("The archive holds nothing about this claim.", "Les archives ne contiennent rien sur cette affirmation.",
                    "档案中没有与此说法相关的内容。"),
    "quote_places": ("Occurrences, earliest first", "Occurrences, de la plus ancienne à la plus récente", "出现次数（按时间先后）"),
    "quote_close": ("No exact match; close wordings:", "Aucune correspondance exacte ; formulations proches :",
                    "没有完全匹配；相近的表述："),
    "quote_none": ("These words do not appear in the archive.", "Ces mots n'apparaissent pas dans les archives.",
                   "档案中没有出现这些词句。"),
    "said_by": ("said by", "dit par", "说话人"),
    "error": ("Error", "Erreur", "错误"),
    "export": ("Export for a fact-check report", "Exporter pour un rapport de vérification", "导出到核查报告"),
    "export_empty": ("Ask a question to export its answer and sources.", "Posez une question pour exporter la réponse et ses sources.",
                     "提出问题后可导出回答及其来源。"),
    "download_md": ("Download Markdown", "Télécharger en Markdown", "下载 Markdown"),
    "download_csv": ("Download CSV", "Télécharger en CSV", "下载 CSV"),
    "copy_md": ("Copy Markdown", "Copier le Markdown", "复制 Markdown"),
    "copy_csv": ("Copy CSV", "Copier le CSV", "复制 CSV"),
    "copied": ("Copied", "Copié", "已复制"),
    "upload": ("Files or a ZIP to add to the archive", "Fichiers ou ZIP à ajouter aux archives", "要加入档案的文件或 ZIP"),
    "collection": ("Collection (desk)", "Collection (rédaction)", "集合（编辑部）"),
    "as_files": ("As named in the files", "Comme indiqué dans les fichiers", "按文件中的设置"),
    "ingest": ("Add to the archive", "Ajouter aux archives", "加入档案"),
    "ingest_report": ("Ingest report", "Rapport d'import", "导入报告"),
    "no_files": ("Choose files first.", "Choisissez d'abord des fichiers.", "请先选择文件。"),
    "not_allowed": ("You may not add files to this collection.", "Vous ne pouvez pas ajouter de fichiers à cette collection.",
                    "您无权向此集合添加文件。"),
    "ingested": ("new", "nouveaux", "新增"),
    "updated": ("updated", "mis à jour", "更新"),
    "unchanged": ("unchanged", "inchangés", "未变"),
    "failed": ("failed", "en échec", "失败"),
    "chunks": ("passages", "passages", "段落"),
    "holdings": ("What the archive holds", "Contenu des archives", "档案内容"),
    "refresh": ("Refresh", "Actualiser", "刷新"),
    "articles": ("articles", "articles", "篇文章"),
    "by_language": ("By language", "Par langue", "按语言"),
    "by_outlet": ("By outlet", "Par média", "按媒体"),
    "by_year": ("By year", "Par année", "按年份"),
    "coverage": ("Coverage timeline", "Chronologie de la couverture", "报道时间线"),
    "coverage_query": ("Topic, name or words", "Sujet, nom ou mots", "主题、名称或词语"),
    "coverage_go": ("Show timeline", "Afficher la chronologie", "显示时间线"),
    "coverage_found": ("matching articles", "articles correspondants", "篇相关文章"),
    "undated": ("undated", "non datés", "无日期"),
    "month": ("month", "mois", "月份"),
    "year": ("year", "année", "年份"),
    "language": ("language", "langue", "语言"),
    "count": ("articles", "articles", "文章数"),
}


def t(key: str, lang: str = "en") -> str:
    """The interface string ``key`` in ``lang`` (English when the language is not offered)."""
    row = STRINGS[key]
    return row[LANGS.index(lang)] if lang in LANGS else row[0]


def pick_language(accept_language: str | None) -> str:
    """The first offered language in a browser's Accept-Language header (``fr-CH, fr;q=0.9, en;q=0.8``)."""
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, i, tag.split("-")[0].lower()))
    for _, _, code in sorted(ranked):
        if code in LANGS:
            return code
    return "en"

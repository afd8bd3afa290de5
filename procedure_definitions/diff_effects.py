"""What each kind of definition change means for drafts already on phones and for stored submissions.

The texts describe what the code does today, not what it might do: a draft moves to the newest published
version when it is opened on the phone (``pwa/js/formview.js`` ``openDraft``, ``pwa/js/migrate.js``
``migrateAnswers``, docs/sync.md "Procedure versions"): answers of top-level fields whose ids still exist are
kept, answers of removed top-level fields are kept aside on the phone under their ids (restored if a later
version brings the field back) and never sent, and the update notice asks only for top-level fields that are
new or became required, unanswered and required now. A group's answer (its items) moves whole, so a field
removed inside a group stays in each item and the form refuses it as ``unknown_field``. Every other answer is
kept as it was and checked by the new version's rules (phone and server: ``forms.py``, ``pwa/js/form.js``).
A stored submission keeps the version it was filed with: it is validated, shown and printed with that version
(retired versions stay in ``procedure_versions``), and keeps the department it was filed to. A life event
bundle already started keeps the life event version it started with (``pwa/js/page-bundle.js``); only its
procedures' drafts move, each as above. Docs: docs/configuring.md "What changed between versions (diff)".
"""

from __future__ import annotations

__all__ = ["EFFECTS", "KEEP_SUBMISSIONS"]

# Said once at the end of every effect that touches answers (the table in docs/configuring.md repeats it).
KEEP_SUBMISSIONS = (
    "提出済みの申請は変わりません（提出した版のまま検証・表示されます）。",
    "Stored submissions are unchanged (they keep the version they were filed with).",
)

_S_JA, _S_EN = KEEP_SUBMISSIONS

# effect key -> (ja, en). Keys are the change kinds, with a variant after ":" where one kind has two effects.
EFFECTS: dict[str, tuple[str, str]] = {
    "new": (
        "公開中の版がないため、端末の下書きにも提出済みの申請にも影響はありません。",
        "Nothing is live yet: no draft on a phone and no stored submission is affected.",
    ),
    "kind_changed": (
        "手続きとライフイベントが入れ替わります。端末の下書きは新しい定義に移れません。" + _S_JA,
        "A procedure becomes a life event or the reverse: drafts on phones cannot move to it. " + _S_EN,
    ),
    "field_added": (
        "下書きには何も求められません（新しい項目は空欄で表示されます）。" + _S_JA,
        "Nothing is asked of drafts: the new field is shown empty. " + _S_EN,
    ),
    "field_added:required": (
        "端末の下書きは新しい版に移るとき、この項目が未回答なら入力を求められます（更新のお知らせに項目名が出ます）。"
        "入力するまで送信は受け付けられません（完成していた下書きも）。" + _S_JA,
        "Drafts on phones are asked for it when they move to the new version (the update notice names it); "
        "drafts that were valid are refused until the new required field is answered. " + _S_EN,
    ),
    "field_added:required_if": (
        "端末の下書きは新しい版に移るとき、条件が成り立ち未回答ならこの項目の入力を求められ、入力するまで送信は受け付けられません。"
        + _S_JA,
        "Drafts on phones whose answers meet its condition are asked for it when they move to the new version "
        "and refused until it is answered. " + _S_EN,
    ),
    "field_added:in_group": (
        "グループに入力済みの各件にはこの項目がありません。必須の場合、各件で未入力と表示され、入力するまで送信は受け付けられません"
        "（更新のお知らせには出ません）。" + _S_JA,
        "Items already entered in the group lack it: when required, each item shows it missing and sending is "
        "refused until it is filled (the update notice does not name it). " + _S_EN,
    ),
    "field_added:staff_only": (
        "窓口の職員が記入する項目です。住民の下書きには求められません。窓口で職員が入力する下書きは、入力するまで送信できません。"
        + _S_JA,
        "Filled at the counter: residents' drafts are not asked for it; a draft staff file at the counter is "
        "refused until it is answered. " + _S_EN,
    ),
    "field_added:no_answer": (
        "回答を持たない項目（お知らせ・自動計算）です。下書きにも提出済みの申請にも影響はありません。",
        "It holds no typed answer (a notice or a calculation): drafts and stored submissions are unaffected.",
    ),
    "attachment_added": (
        "下書きには何も求められません（ファイルは任意で添付できます）。" + _S_JA,
        "Nothing is asked of drafts: a file may be attached. " + _S_EN,
    ),
    "attachment_added:required": (
        "端末の下書きは新しい版に移るとき、ファイルが未添付なら添付を求められ、添付するまで送信は受け付けられません。" + _S_JA,
        "Drafts on phones are asked to attach a file when they move to the new version and are refused until "
        "one is attached. " + _S_EN,
    ),
    "field_removed": (
        "下書きが新しい版に移るとき、この項目の回答は端末内に別に保管され（後の版で項目が戻れば復元）、送信されなくなります。"
        + _S_JA,
        "When a draft moves to the new version its answer to this field is kept aside on the phone (restored "
        "if a later version brings the field back) and is no longer sent. " + _S_EN,
    ),
    "field_removed:in_group": (
        "下書きのグループの各件には回答が残り、端末とサーバーは「様式にない項目」(unknown_field) として送信を受け付けません"
        "（その件を削除して入力し直すまで）。" + _S_JA,
        "Drafts keep the answer inside the group's items: the phone and the server refuse it as not on the form "
        "(unknown_field) until that item is removed and entered again. " + _S_EN,
    ),
    "field_removed:no_answer": (
        "回答を持たない項目（お知らせ・自動計算）です。失われる回答はありません。",
        "It held no typed answer (a notice or a calculation): nothing is lost.",
    ),
    "field_moved": (
        "別のページに表示されます。回答はそのまま残ります。" + _S_JA,
        "It is shown on another page; answers are kept. " + _S_EN,
    ),
    "field_moved:group": (
        "回答の置き場所（グループ）が変わります。元の場所の回答は新しい場所に移らず（別に保管されるか「様式にない項目」として"
        "拒否され）、入力し直す必要があります。" + _S_JA,
        "The answer lives in another place (group): a draft's answer at the old place is not carried over (it is "
        "kept aside, or refused as not on the form) and must be entered again. " + _S_EN,
    ),
    "type_changed": (
        "下書きは同じ項目の古い回答を持ち続けます。新しい種類に合わない回答は項目にエラーが表示され、入力し直すまで送信は"
        "受け付けられません（更新のお知らせには出ません）。" + _S_JA,
        "Drafts keep the old answer under the same id; an answer that does not fit the new type shows an error "
        "on the field and sending is refused until it is answered again (the update notice does not name it). "
        + _S_EN,
    ),
    "label_changed": (
        "表示される文言だけが変わります。回答はそのままです。" + _S_JA,
        "Only the wording changes: answers are kept as they are. " + _S_EN,
    ),
    "hint_changed": (
        "説明の文言だけが変わります。回答はそのままです。" + _S_JA,
        "Only the help wording changes: answers are kept as they are. " + _S_EN,
    ),
    "choice_added": (
        "選択肢が一つ増えます。下書きはそのまま有効です。" + _S_JA,
        "One more choice is offered: drafts stay valid. " + _S_EN,
    ),
    "choice_removed": (
        "この選択肢を選んだ下書きは値を持ち続けますが、別の選択肢を選ぶまで送信は受け付けられません（更新のお知らせには出ません）。"
        + _S_JA,
        "A draft that picked this choice keeps the value but is refused until another choice is picked (the "
        "update notice does not name it). " + _S_EN,
    ),
    "choice_relabelled": (
        "保存される値は変わらず、新しい表示名で表示されます。下書きも提出済みの申請も回答はそのままです。",
        "The stored value is the same; the new label is shown. Drafts and stored submissions keep their answers.",
    ),
    "rule_tightened": (
        "前の決まりでは通った下書きの回答も、新しい決まりに合わなければ項目にエラーが表示され、直すまで送信は受け付けられません"
        "（更新のお知らせには出ません）。" + _S_JA,
        "A draft's answer that met the old rule but not the new one shows an error on the field and is refused "
        "until it is corrected (the update notice does not name it). " + _S_EN,
    ),
    "rule_tightened:required": (
        "端末の下書きは新しい版に移るとき、この項目が未回答なら入力を求められます（更新のお知らせに項目名が出ます）。"
        "入力するまで送信は受け付けられません。" + _S_JA,
        "Drafts on phones are asked for it when they move to the new version and it is unanswered (the update "
        "notice names it); drafts that were valid are refused until it is answered. " + _S_EN,
    ),
    "rule_tightened:required_in_group": (
        "グループに入力済みの各件でこの項目が未入力なら、入力するまで送信は受け付けられません（更新のお知らせには出ません）。"
        + _S_JA,
        "Items already entered in the group without an answer to it are refused until it is filled (the update "
        "notice does not name it). " + _S_EN,
    ),
    "rule_tightened:staff_only": (
        "窓口の職員が記入する項目になります。住民の下書きの回答は端末内に別に保管され送信されません"
        "（住民からの回答は受け付けられません）。" + _S_JA,
        "It becomes the counter's to fill: a resident's draft keeps its answer aside and does not send it (a "
        "resident's answer to it is refused). " + _S_EN,
    ),
    "rule_tightened:filers": (
        "外された提出者（住民または窓口）の下書きは、新しい版に移ると送信できません (filer_not_allowed)。" + _S_JA,
        "Drafts of the filer no longer listed (residents or the counter) cannot be sent once they move to the "
        "new version (filer_not_allowed). " + _S_EN,
    ),
    "rule_loosened": (
        "前に受け付けた回答が拒否されることはありません。下書きはそのまま有効です。" + _S_JA,
        "Nothing accepted before is refused: drafts stay valid. " + _S_EN,
    ),
    "rule_changed": (
        "決まりが変わります（緩くなるだけとは限りません）。通っていた下書きの回答が拒否され、直すまで送信できないことがあります"
        "（更新のお知らせには出ません）。" + _S_JA,
        "The rule is different, not only looser: a draft's answer that passed may now be refused until it is "
        "corrected (the update notice does not name it). " + _S_EN,
    ),
    "rule_changed:required_if": (
        "条件付き必須の条件が変わります。下書きが新しい版に移るとき、新しい条件が成り立ち未回答なら入力を求められ、"
        "入力するまで送信は受け付けられません。" + _S_JA,
        "The condition that makes it required changes: drafts moving to the new version are asked for it when "
        "the new condition holds and it is unanswered, and refused until it is answered. " + _S_EN,
    ),
    "condition_changed": (
        "下書きは新しい表示条件に従います。新たに表示される必須項目は送信前に入力が必要になり、隠れた項目の回答は送信されません。"
        + _S_JA,
        "Drafts follow the new condition: a required field now shown must be answered before sending; an "
        "answer to a field now hidden is not sent. " + _S_EN,
    ),
    "calculation_changed": (
        "下書きを開くと新しい計算式で計算し直されます。提出済みの申請は提出時に計算された値のままです。",
        "Drafts recompute the value with the new calculation when opened; stored submissions keep the value "
        "computed when they were filed.",
    ),
    "calculation_changed:removed": (
        "自動計算でなくなり、住民が入力する項目になります。必須なら、入力するまで送信は受け付けられません（更新のお知らせには"
        "出ません）。" + _S_JA,
        "It is no longer calculated but typed: when required, drafts are refused until it is answered (the update "
        "notice does not name it). " + _S_EN,
    ),
    "input_changed": (
        "入力の仕方（記録からの入力、読み取り専用、人の選び方など）が変わります。下書きの回答はそのままです。" + _S_JA,
        "How it is filled in changes (prefill, read-only, picking people, layout): answers already in drafts are "
        "kept. " + _S_EN,
    ),
    "section_added": (
        "新しいページです。含まれる項目は下に「追加」として一つずつ示します。",
        "A new page; each of its fields is listed as added.",
    ),
    "section_removed": (
        "ページがなくなります。含まれていた項目は下に「削除」または「移動」として一つずつ示します。",
        "The page is gone; each of its fields is listed as removed or moved.",
    ),
    "section_changed": (
        "ページの見出しや説明だけが変わります。回答はそのままです。" + _S_JA,
        "Only the page's heading or help changes: answers are kept. " + _S_EN,
    ),
    "parties_changed": (
        "他の住民が記入・確認する部分が変わります。二人で進めている下書きは、開いたときに新しい版の分担に従います。" + _S_JA,
        "What another resident fills and confirms changes: a draft two people are working on follows the new "
        "version's parts when opened. " + _S_EN,
    ),
    "title_changed": (
        "アプリと管理画面に新しい名前で表示されます。下書きの回答も提出済みの申請も変わりません。",
        "Shown under the new title in the app and the console; draft answers and stored submissions are "
        "unchanged.",
    ),
    "department_changed": (
        "新しく届く申請は新しい担当課の審査担当に届きます。提出済みの申請は提出したときの担当課のままです。",
        "New submissions go to the new department's reviewers; submissions already stored stay with the "
        "department they were filed to.",
    ),
    "details_changed": (
        "案内の情報だけが変わります（新しい申請から反映）。回答はそのままです。" + _S_JA,
        "Information only (applies to new filings): answers are kept. " + _S_EN,
    ),
    "document_added": (
        "新しい申請の持ち物・添付書類の案内に載ります。下書きはそのまま有効です。" + _S_JA,
        "New filings list it among what to bring or attach; drafts stay valid. " + _S_EN,
    ),
    "document_removed": (
        "新しい申請の持ち物・添付書類の案内から外れます。下書きはそのまま有効です。" + _S_JA,
        "New filings no longer list it among what to bring or attach; drafts stay valid. " + _S_EN,
    ),
    "document_changed": (
        "持ち物・添付書類の案内（名前や必要になる条件）が変わります。下書きはそのまま有効です。" + _S_JA,
        "What to bring or attach is described differently (its label or when it is needed); drafts stay valid. "
        + _S_EN,
    ),
    # Life events: a bundle already started keeps the life event version it started with.
    "life_event": (
        "端末で始めたライフイベントは始めたときの版のまま進みます。新しく始めるものから新しい版になります。"
        "各手続きの下書きは手続きごとの規則で新しい版に移ります。",
        "Life events already started on phones keep the version they were started with; ones started from now "
        "use the new version. Each procedure's own draft moves to its newest version as procedures do.",
    ),
}

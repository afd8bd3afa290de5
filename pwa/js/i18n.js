// UI strings in Japanese (default), English and やさしい日本語, and the language preference.
// Procedure texts come from the library as {ja, en, 'ja-easy'}; tx() picks one with a fallback to ja.

export const LANGS = ['ja', 'en', 'ja-easy'];
const KEY = 'madoguchi.lang';

const S = {
  app: { ja: '窓口', en: 'Madoguchi', 'ja-easy': 'まどぐち' },
  skip: { ja: '本文へ移動', en: 'Skip to content', 'ja-easy': 'なかみ へ いく' },
  language: { ja: '言語', en: 'Language', 'ja-easy': 'ことば' },
  signin: { ja: 'サインイン', en: 'Sign in', 'ja-easy': 'サインイン' },
  signout: { ja: 'サインアウト', en: 'Sign out', 'ja-easy': 'サインアウト' },
  loading: { ja: '読み込み中…', en: 'Loading…', 'ja-easy': 'よみこんで います…' },
  footer: { ja: 'オフラインでも入力できます。入力内容はこの端末に保存されます。', en: 'Works offline. What you enter is saved on this device.', 'ja-easy': 'インターネット が なくても かけます。かいた ことは この きかい に のこります。' },
  home: { ja: 'ホーム', en: 'Home', 'ja-easy': 'はじめ の がめん' },
  homeTitle: { ja: '窓口 — 手続きのホーム', en: 'Madoguchi — your procedures', 'ja-easy': 'あなた の てつづき' },
  findCta: { ja: '手続きをさがす', en: 'Find a procedure', 'ja-easy': 'てつづき を さがす' },
  eventsCta: { ja: 'くらしの出来事から選ぶ', en: 'Start from a life event', 'ja-easy': 'くらし の できごと から えらぶ' },
  drafts: { ja: '入力中の申請', en: 'Drafts', 'ja-easy': 'とちゅう の しんせい' },
  noDrafts: { ja: '入力中の申請はありません。', en: 'No drafts.', 'ja-easy': 'とちゅう の しんせい は ありません。' },
  submitted: { ja: '送信した申請', en: 'Submitted applications', 'ja-easy': 'おくった しんせい' },
  noSubmitted: { ja: '送信した申請はありません。', en: 'No submitted applications.', 'ja-easy': 'おくった しんせい は ありません。' },
  needsInfo: { ja: '追加の情報が必要な申請', en: 'Needs more information', 'ja-easy': 'しやくしょ から しつもん が ある しんせい' },
  receiptNo: { ja: '受付番号', en: 'Receipt number', 'ja-easy': 'うけつけ ばんごう' },
  waiting: { ja: '送信待ち', en: 'Waiting to send', 'ja-easy': 'まだ おくって いません' },
  continue: { ja: '続きを入力', en: 'Continue', 'ja-easy': 'つづき を かく' },
  deleteDraft: { ja: '削除', en: 'Delete', 'ja-easy': 'けす' },
  updated: { ja: '更新', en: 'Updated', 'ja-easy': 'さいご に かいた とき' },
  status_received: { ja: '受付済み', en: 'Received', 'ja-easy': 'うけつけ ました' },
  status_in_review: { ja: '審査中', en: 'In review', 'ja-easy': 'しやくしょ が みて います' },
  status_needs_info: { ja: '追加情報が必要', en: 'Needs information', 'ja-easy': 'しやくしょ から しつもん が あります' },
  status_accepted: { ja: '承認', en: 'Accepted', 'ja-easy': 'しんせい が とおりました' },
  status_rejected: { ja: '却下', en: 'Rejected', 'ja-easy': 'しんせい は とおりません でした' },
  status_completed: { ja: '完了', en: 'Completed', 'ja-easy': 'ぜんぶ おわりました' },
  status_pending: { ja: '送信待ち', en: 'Waiting to send', 'ja-easy': 'まだ おくって いません' },
  finderTitle: { ja: '手続きをさがす', en: 'Find a procedure', 'ja-easy': 'てつづき を さがす' },
  searchLabel: { ja: '手続きの名前やことば', en: 'Words or procedure name', 'ja-easy': 'てつづき の なまえ や ことば' },
  searchHint: { ja: '日本語または英語で入力できます。例）住民票、residence', en: 'Japanese or English. Example: 住民票, residence', 'ja-easy': 'れい）じゅうみんひょう' },
  search: { ja: '検索', en: 'Search', 'ja-easy': 'さがす' },
  results: { ja: '見つかった手続き', en: 'Procedures found', 'ja-easy': 'みつかった てつづき' },
  noResults: { ja: '見つかりませんでした。別のことばで試してください。', en: 'Nothing found. Try other words.', 'ja-easy': 'みつかりません でした。ほか の ことば で さがして ください。' },
  allProcedures: { ja: 'すべての手続き', en: 'All procedures', 'ja-easy': 'ぜんぶ の てつづき' },
  lifeEvents: { ja: 'くらしの出来事', en: 'Life events', 'ja-easy': 'くらし の できごと' },
  start: { ja: '申請を始める', en: 'Start', 'ja-easy': 'はじめる' },
  documents: { ja: '持ち物', en: 'What to bring', 'ja-easy': 'もって くる もの' },
  fee: { ja: '手数料', en: 'Fee', 'ja-easy': 'はらう おかね' },
  feeTotal: { ja: '手数料 {n}円', en: 'Fee: ¥{n}', 'ja-easy': 'はらう おかね：{n}えん' },
  deadline: { ja: '期限', en: 'Deadline', 'ja-easy': 'いつ まで' },
  department: { ja: '担当', en: 'Department', 'ja-easy': 'うけつける ところ' },
  questions: { ja: '質問に答えてください', en: 'Answer a few questions', 'ja-easy': 'しつもん に こたえて ください' },
  yes: { ja: 'はい', en: 'Yes', 'ja-easy': 'はい' },
  no: { ja: 'いいえ', en: 'No', 'ja-easy': 'いいえ' },
  applies: { ja: '必要な手続き', en: 'Procedures that apply', 'ja-easy': 'あなた に ひつよう な てつづき' },
  combinedStart: { ja: 'まとめて入力する', en: 'Fill them in together', 'ja-easy': 'まとめて かく' },
  shared: { ja: '共通の項目（一度だけ入力）', en: 'Shared details (entered once)', 'ja-easy': 'どの てつづき にも つかう こと（1かい だけ かきます）' },
  required: { ja: '※必須', en: '* Required', 'ja-easy': '※かならず かく' },
  optional: { ja: '※任意', en: '(optional)', 'ja-easy': '※かかなくても いい' },
  prefilled: { ja: '登録情報から入力', en: 'Filled from your record', 'ja-easy': 'しやくしょ の きろく から いれました' },
  prefilledLocked: { ja: '登録情報から入力（編集不可）', en: 'From your record (cannot be changed)', 'ja-easy': 'しやくしょ の きろく から いれました（かえられません）' },
  next: { ja: '次へ進む', en: 'Continue', 'ja-easy': 'つぎ へ' },
  back: { ja: '戻る', en: 'Back', 'ja-easy': 'もどる' },
  toReview: { ja: '入力内容を確認する', en: 'Check your answers', 'ja-easy': 'かいた こと を たしかめる' },
  reviewTitle: { ja: '入力内容の確認', en: 'Check your answers', 'ja-easy': 'かいた こと を たしかめて ください' },
  reviewNote: { ja: 'まだ送信していません。内容を確認して「送信」を押してください。', en: 'Nothing has been sent yet. Check and press “Submit”.', 'ja-easy': 'まだ おくって いません。よく みて から「送信」を おして ください。「送信」は「おくる」と いう いみ です。' },
  change: { ja: '変更', en: 'Change', 'ja-easy': 'なおす' },
  notEntered: { ja: '未入力', en: 'Not entered', 'ja-easy': 'かいて いません' },
  submit: { ja: '送信', en: 'Submit', 'ja-easy': '送信' },
  doneTitle: { ja: '申請を受け付けました', en: 'Application received', 'ja-easy': 'しんせい を うけつけ ました' },
  queuedTitle: { ja: '送信待ちに入れました', en: 'Queued to send', 'ja-easy': 'おくる じゅんび が できました' },
  queuedText: { ja: 'インターネットにつながると自動で送信します。この画面を閉じても大丈夫です。', en: 'It will be sent automatically when you are back online. You can close this screen.', 'ja-easy': 'インターネット に つながったら、じどう で おくります。この がめん を とじても だいじょうぶ です。' },
  doneNext: { ja: '担当課が内容を確認します。結果はホームの「送信した申請」で確認できます。', en: 'The department will review it. Check its status under “Submitted applications” on the home screen.', 'ja-easy': 'しやくしょ が なかみ を みます。けっか は はじめ の がめん で みられます。' },
  toHome: { ja: 'ホームへ戻る', en: 'Back to home', 'ja-easy': 'はじめ の がめん へ もどる' },
  errorsTitle: { ja: '入力内容を確認してください（{n}件）', en: 'There is a problem ({n})', 'ja-easy': 'なおす ところ が {n}こ あります' },
  errorLine: { ja: '{label}：{msg}', en: '{label}: {msg}', 'ja-easy': '{label}：{msg}' },
  errorPrefix: { ja: 'エラー：', en: 'Error: ', 'ja-easy': 'まちがい：' },
  allSent: { ja: 'すべて送信済み', en: 'All sent', 'ja-easy': 'ぜんぶ おくりました' },
  nWaiting: { ja: '{n}件 送信待ち', en: '{n} waiting to send', 'ja-easy': 'まだ おくって いない もの：{n}こ' },
  failed: { ja: '送信失敗: {reason}', en: 'Failed to send: {reason}', 'ja-easy': 'おくれません でした：{reason}' },
  retry: { ja: '再送信', en: 'Retry', 'ja-easy': 'もう いちど おくる' },
  offline: { ja: 'オフライン', en: 'offline', 'ja-easy': 'インターネット に つながって いません' },
  needSignin: { ja: 'サインインが必要です', en: 'sign-in needed', 'ja-easy': 'サインイン して ください' },
  signinTitle: { ja: 'サインイン', en: 'Sign in', 'ja-easy': 'サインイン' },
  signinText: { ja: 'パスキー（スマートフォンの指紋・顔認証など）でサインインします。パスワードは不要です。', en: 'Sign in with a passkey (your phone’s fingerprint or face unlock). No password needed.', 'ja-easy': 'パスキー で サインイン します。パスキー は、スマートフォン を ゆび や かお で あける しくみ です。パスワード は いりません。' },
  signinPasskey: { ja: 'パスキーでサインイン', en: 'Sign in with a passkey', 'ja-easy': 'パスキー で サインイン' },
  register: { ja: 'はじめての方：パスキーを作成', en: 'New here: create a passkey', 'ja-easy': 'はじめて の ひと：パスキー を つくる' },
  displayName: { ja: '表示名（ニックネーム可）', en: 'Display name (a nickname is fine)', 'ja-easy': 'あなた の よびかた（ほんとう の なまえ で なくても いいです）' },
  recoveryTitle: { ja: '回復コード', en: 'Recovery codes', 'ja-easy': 'かいふく コード' },
  recoveryText: { ja: 'パスキーをなくしたときに使います。安全な場所に控えてください。', en: 'Use these if you lose your passkey. Keep them somewhere safe.', 'ja-easy': 'パスキー を なくした とき に つかいます。かみ に かいて、だいじ に しまって ください。' },
  accountTitle: { ja: 'アカウント', en: 'Account', 'ja-easy': 'あなた の じょうほう' },
  passkeysTitle: { ja: 'パスキー', en: 'Passkeys', 'ja-easy': 'パスキー' },
  passkeysText: { ja: 'スマートフォンやPCごとにパスキーを登録できます。なくした端末のパスキーは削除してください。', en: 'You can register a passkey on each phone or computer. Remove the passkey of a device you lost.', 'ja-easy': 'スマートフォン など の きかい ごと に パスキー を つくれます。なくした きかい の パスキー は けして ください。' },
  passkeyName: { ja: 'パスキーの名前', en: 'Passkey name', 'ja-easy': 'パスキー の なまえ' },
  passkeyDates: { ja: '登録：{created}　最終使用：{used}', en: 'Added {created}, last used {used}', 'ja-easy': 'つくった ひ：{created}　さいご に つかった ひ：{used}' },
  never: { ja: 'なし', en: 'never', 'ja-easy': 'まだ ありません' },
  passkeyRename: { ja: '名前を保存', en: 'Save name', 'ja-easy': 'なまえ を ほぞん' },
  passkeyRemove: { ja: 'このパスキーを削除', en: 'Remove this passkey', 'ja-easy': 'この パスキー を けす' },
  passkeyAdd: { ja: 'この端末のパスキーを追加', en: 'Add a passkey on this device', 'ja-easy': 'この きかい の パスキー を ふやす' },
  passkeyAdded: { ja: 'パスキーを追加しました。', en: 'Passkey added.', 'ja-easy': 'パスキー を ふやしました。' },
  passkeyRenamed: { ja: '名前を保存しました。', en: 'Name saved.', 'ja-easy': 'なまえ を ほぞん しました。' },
  passkeyRemoved: { ja: 'パスキーを削除しました。', en: 'Passkey removed.', 'ja-easy': 'パスキー を けしました。' },
  accountFailed: { ja: 'できませんでした：{reason}', en: 'That did not work: {reason}', 'ja-easy': 'できません でした：{reason}' },
  accountOffline: { ja: 'オフラインのため表示できません。', en: 'Not available offline.', 'ja-easy': 'インターネット に つながって いないので みせられません。' },
  recoveryAbout: { ja: '回復コードを使い切った、またはなくした場合は、新しいコードを作れます。', en: 'If you used up or lost your recovery codes, you can make new ones.', 'ja-easy': 'かいふく コード を ぜんぶ つかった とき や なくした とき は、あたらしく つくれます。' },
  recoveryNew: { ja: '新しい回復コードを作る', en: 'Make new recovery codes', 'ja-easy': 'あたらしい かいふく コード を つくる' },
  recoveryWarning: { ja: 'これまでの回復コードはすべて使えなくなります。', en: 'All your earlier recovery codes will stop working.', 'ja-easy': 'まえ の かいふく コード は ぜんぶ つかえなく なります。' },
  recoveryConfirm: { ja: '古いコードを無効にして作る', en: 'Replace my old codes', 'ja-easy': 'まえ の コード を けして つくる' },
  reauthText: { ja: 'パスキーの追加・削除や回復コードの作り直しの前に、パスキーでもう一度本人確認をします。', en: 'Before adding or removing a passkey or making new recovery codes, confirm it is you with your passkey once more.', 'ja-easy': 'パスキー や かいふく コード を かえます。その まえ に、もう いちど パスキー で あなた だと たしかめます。' },
  reauthButton: { ja: 'パスキーで本人確認して続ける', en: 'Confirm with my passkey and continue', 'ja-easy': 'パスキー で たしかめて つづける' },
  signoutAll: { ja: 'すべての端末でサインアウト', en: 'Sign out on every device', 'ja-easy': 'ぜんぶ の きかい で サインアウト' },
  signedInAs: { ja: '{name} さん', en: '{name}', 'ja-easy': '{name} さん' },
  signinOffline: { ja: 'サインインにはインターネット接続が必要です。入力と保存はオフラインでもできます。', en: 'Signing in needs a connection. You can still fill in and save forms offline.', 'ja-easy': 'サインイン には インターネット が いります。かく こと は インターネット が なくても できます。' },
  signinFailed: { ja: 'サインインできませんでした：{reason}', en: 'Could not sign in: {reason}', 'ja-easy': 'サインイン できません でした：{reason}' },
  onBehalf: { ja: '申請する住民', en: 'Resident you are filing for', 'ja-easy': 'だれ の しんせい ですか' },
  pickResident: { ja: '担当の住民を選ぶ', en: 'Choose an assigned resident', 'ja-easy': 'だれ の かわり に かきますか' },
  noResident: { ja: '（本人として申請）', en: '(filing for myself)', 'ja-easy': '（じぶん）' },
  residentsUnavailable: { ja: '担当住民の一覧を取得できませんでした（オフラインの場合は前回の一覧を使います）。', en: 'Could not load assigned residents (offline, the last list is used).', 'ja-easy': 'じゅうみん の なまえ を よめません でした。まえ に よんだ なまえ を つかいます。' },
  postalLookup: { ja: '郵便番号から住所を入力', en: 'Fill address from postal code', 'ja-easy': 'ゆうびんばんごう から じゅうしょ を いれる' },
  postalFound: { ja: '住所を入力しました：{addr}', en: 'Address filled: {addr}', 'ja-easy': 'じゅうしょ を いれました：{addr}' },
  postalMany: { ja: '候補が{n}件あります。選んでください。', en: '{n} matches. Choose one.', 'ja-easy': 'じゅうしょ が {n}こ あります。1つ えらんで ください。' },
  postalNone: { ja: 'この郵便番号の住所が見つかりません。手で入力してください。', en: 'No address for this postal code. Please type it.', 'ja-easy': 'じゅうしょ が みつかりません。じぶん で かいて ください。' },
  postalUnavailable: { ja: '住所のデータをまだ取得していないため、検索できません。住所を入力してください。', en: 'The address data is not on this device yet. Please type the address.', 'ja-easy': 'いま は じゅうしょ を しらべられません。じゅうしょ を かいて ください。' },
  postalChoice: { ja: '住所の候補', en: 'Address candidates', 'ja-easy': 'じゅうしょ を えらぶ' },
  pref: { ja: '都道府県', en: 'Prefecture', 'ja-easy': 'とどうふけん' },
  city: { ja: '市区町村', en: 'City', 'ja-easy': 'し・く・ちょう・そん' },
  town: { ja: '町名', en: 'Town', 'ja-easy': 'まち の なまえ' },
  block: { ja: '番地', en: 'Block and number', 'ja-easy': 'ばんち' },
  building: { ja: '建物名・部屋番号', en: 'Building and room', 'ja-easy': 'たてもの・へや ばんごう' },
  postalCode: { ja: '郵便番号', en: 'Postal code', 'ja-easy': 'ゆうびんばんごう' },
  family: { ja: '姓', en: 'Family name', 'ja-easy': 'みょうじ' },
  given: { ja: '名', en: 'Given name', 'ja-easy': 'なまえ' },
  familyKana: { ja: 'セイ', en: 'Family name (katakana)', 'ja-easy': 'みょうじ（カタカナ）' },
  givenKana: { ja: 'メイ', en: 'Given name (katakana)', 'ja-easy': 'なまえ（カタカナ）' },
  nameHint: { ja: '住民票に記載されているとおりに入力してください。', en: 'As written in your residence record.', 'ja-easy': 'じゅうみんひょう と おなじ じ で かいて ください。' },
  kanaHint: { ja: 'カタカナで入力してください（ひらがなは自動で変換します）。', en: 'In katakana (hiragana is converted).', 'ja-easy': 'カタカナ で かいて ください。ひらがな でも いいです。' },
  calendar: { ja: '暦', en: 'Calendar', 'ja-easy': 'こよみ（せいれき・われき）' },
  seireki: { ja: '西暦', en: 'Gregorian', 'ja-easy': 'せいれき' },
  year: { ja: '年', en: 'Year', 'ja-easy': 'ねん' },
  month: { ja: '月', en: 'Month', 'ja-easy': 'がつ' },
  day: { ja: '日', en: 'Day', 'ja-easy': 'にち' },
  dateHint: { ja: '例）2021年9月1日 または 令和3年9月1日', en: 'Example: 2021 9 1, or choose an era', 'ja-easy': 'れい）2021ねん 9がつ 1にち' },
  selectPrompt: { ja: '選択してください', en: 'Choose', 'ja-easy': 'えらんで ください' },
  addItem: { ja: '{label}を追加', en: 'Add {label}', 'ja-easy': '{label} を ふやす' },
  removeItem: { ja: '{label}を削除', en: 'Remove {label}', 'ja-easy': '{label} を けす' },
  item: { ja: '{label} {n}', en: '{label} {n}', 'ja-easy': '{label} {n}' },
  attach: { ja: 'ファイルを選ぶ・写真を撮る', en: 'Choose a file or take a photo', 'ja-easy': 'しゃしん を とる・ファイル を えらぶ' },
  attachHint: { ja: '形式：{types}、{mb}MBまで', en: 'Types: {types}, up to {mb} MB', 'ja-easy': '{types} の ファイル を つかえます。{mb}MB まで です。' },
  remove: { ja: '削除', en: 'Remove', 'ja-easy': 'けす' },
  tooBig: { ja: 'ファイルが大きすぎます（{mb}MBまで）。', en: 'The file is too large (up to {mb} MB).', 'ja-easy': 'ファイル が おおきすぎます。{mb}MB まで です。' },
  badType: { ja: 'このファイル形式は使えません。', en: 'This file type is not accepted.', 'ja-easy': 'この ファイル は つかえません。' },
  unit: { ja: '単位', en: 'Unit', 'ja-easy': 'たんい' },
  calculated: { ja: '自動計算', en: 'Calculated', 'ja-easy': 'じどう で かぞえます' },
  wareki: { ja: '和暦：{w}', en: 'Japanese calendar: {w}', 'ja-easy': 'われき：{w}' },
  notFound: { ja: 'ページが見つかりません', en: 'Page not found', 'ja-easy': 'この がめん は ありません' },
  procedureMissing: { ja: 'この手続きのデータを読み込めませんでした。', en: 'Could not load this procedure.', 'ja-easy': 'この てつづき を よめません でした。' },
  saved: { ja: '下書きを保存しました', en: 'Draft saved', 'ja-easy': 'のこしました' },
  section: { ja: '{n}/{total}', en: '{n} of {total}', 'ja-easy': '{n}/{total}' },
  stepInput: { ja: '入力', en: 'Fill in', 'ja-easy': 'かく' },
  stepReview: { ja: '確認', en: 'Check', 'ja-easy': 'たしかめる' },
  stepDone: { ja: '完了', en: 'Done', 'ja-easy': 'おわり' },
  onBehalfOf: { ja: '代理入力：{name}', en: 'On behalf of: {name}', 'ja-easy': '{name} さん の かわり に かいて います' },
  invalidField: { ja: '{label}を確認してください。', en: 'Check {label}.', 'ja-easy': '{label} を たしかめて ください。' },
  requiredField: { ja: '{label}を入力してください。', en: 'Enter {label}.', 'ja-easy': '{label} を かいて ください。' },
  // Sync: per-item status, the outbox, review, procedure updates, household records (staff).
  outboxLink: { ja: '詳細', en: 'Details', 'ja-easy': 'くわしく' },
  outboxTitle: { ja: '送信の状況', en: 'Sending status', 'ja-easy': '送信 の ようす' },
  outboxEmpty: { ja: '送信待ちのものはありません。', en: 'Nothing is waiting to be sent.', 'ja-easy': 'おくる もの は ありません。' },
  item_waiting: { ja: '送信待ち', en: 'Waiting to send', 'ja-easy': 'まだ おくって いません' },
  item_sending: { ja: '送信中', en: 'Sending', 'ja-easy': 'おくって います' },
  item_sent: { ja: '送信済み', en: 'Sent', 'ja-easy': 'おくりました' },
  item_needs_review: { ja: '確認待ち', en: 'Waiting for review', 'ja-easy': 'しやくしょ が たしかめて います' },
  item_failed: { ja: '送信失敗', en: 'Failed', 'ja-easy': 'おくれません でした' },
  kind_submission: { ja: '申請', en: 'Application', 'ja-easy': 'しんせい' },
  kind_draft: { ja: '入力中の申請', en: 'Draft', 'ja-easy': 'とちゅう の しんせい' },
  kind_bundle: { ja: '入力中の申請', en: 'Draft', 'ja-easy': 'とちゅう の しんせい' },
  kind_household: { ja: '世帯の記録', en: 'Household record', 'ja-easy': 'せたい の きろく' },
  kind_resident: { ja: '住民の記録', en: 'Resident record', 'ja-easy': 'じゅうみん の きろく' },
  kind_case: { ja: '案件', en: 'Case', 'ja-easy': 'そうだん' },
  dismiss: { ja: '一覧から消す', en: 'Dismiss', 'ja-easy': 'けす' },
  exportTitle: { ja: '送信できないとき', en: 'If sending keeps failing', 'ja-easy': 'おくれない とき' },
  exportHint: { ja: '最後の手段として、この端末の送信待ちの内容をファイルに保存できます。保存したファイルを窓口の職員に見せてください。', en: 'As a last resort, save what this device still has to send to a file and show it to staff at the counter.', 'ja-easy': 'おくる もの を ファイル に のこせます。その ファイル を しやくしょ の ひと に みせて ください。' },
  exportOutbox: { ja: '送信待ちの内容をファイルに保存', en: 'Save the outbox to a file', 'ja-easy': 'ファイル に のこす' },
  otherAccount: { ja: '別のアカウントで入力した内容があります。そのアカウントでサインインしてください', en: 'items entered under another account: sign in with that account', 'ja-easy': 'ほか の ひと が いれた もの が あります' },
  fileFailed: { ja: '添付ファイルを送信できませんでした', en: 'an attached file could not be sent', 'ja-easy': 'ファイル を おくれません でした' },
  filesUploading: { ja: '添付ファイルを送信中（{done}/{total}）', en: 'Sending attachments ({done}/{total})', 'ja-easy': 'ファイル を おくって います（{done}/{total}）' },
  sendFailedTitle: { ja: '送信できませんでした', en: 'Could not be sent', 'ja-easy': 'おくれません でした' },
  fixAndResend: { ja: '内容を直して送信し直す', en: 'Correct it and send again', 'ja-easy': 'なおして もう いちど おくる' },
  draftError: { ja: '送信できませんでした：{reason}。内容を直して、もう一度送信してください。', en: 'Could not be sent: {reason}. Correct it and send it again.', 'ja-easy': '{reason}。おくれません でした。なおして、もう いちど おくって ください。' },
  waitingReview: { ja: '確認待ちの変更', en: 'Changes waiting for review', 'ja-easy': 'しやくしょ が たしかめて いる もの' },
  reviewWaitText: { ja: 'ほかの人の変更と重なったため、職員が確認しています。確認が終わると反映されます。', en: 'These overlapped with someone else’s change; staff are checking them and they apply once decided.', 'ja-easy': 'ほか の ひと も おなじ ところ を かえました。しやくしょ の ひと が たしかめて います。' },
  reviewField: { ja: '{field}：あなたの入力「{mine}」（現在の値「{server}」）', en: '{field}: yours “{mine}” (current “{server}”)', 'ja-easy': '{field}：あなた「{mine}」いま「{server}」' },
  migrated: { ja: 'この手続きの様式が新しくなりました（{from} → {to}）。入力済みの内容はそのまま使えます。', en: 'This procedure was updated ({from} → {to}). Your answers are kept.', 'ja-easy': 'てつづき が あたらしく なりました。かいた こと は のこって います。' },
  migratedAsk: { ja: '新しく必要になった項目：{fields}', en: 'Newly required: {fields}', 'ja-easy': 'あたらしく かく こと：{fields}' },
  households: { ja: '担当世帯の記録', en: 'Household records', 'ja-easy': 'せたい の きろく' },
  householdsEmpty: { ja: '表示できる世帯の記録はありません。オンラインのときに担当の世帯が読み込まれます。', en: 'No household records yet. Your assigned households load when you are online.', 'ja-easy': 'せたい の きろく は ありません。インターネット に つながると よみこみます。' },
  householdTitle: { ja: '{name} さんの世帯', en: 'Household of {name}', 'ja-easy': '{name} さん の せたい' },
  householdSection: { ja: '世帯', en: 'Household', 'ja-easy': 'せたい' },
  members: { ja: '世帯の人', en: 'Members', 'ja-easy': 'せたい の ひと' },
  field_address: { ja: '住所', en: 'Address', 'ja-easy': 'じゅうしょ' },
  field_address_notes: { ja: '住所のメモ（道順・目印など）', en: 'Address notes (directions, landmarks)', 'ja-easy': 'いえ への みち や めじるし' },
  field_name: { ja: '氏名', en: 'Name', 'ja-easy': 'なまえ' },
  field_birth_date: { ja: '生年月日', en: 'Date of birth', 'ja-easy': 'うまれた ひ' },
  field_phone: { ja: '電話番号', en: 'Phone number', 'ja-easy': 'でんわ ばんごう' },
  birthHint: { ja: '例）1948-11-03（月日が不明なら 1950-03）', en: 'Example: 1948-11-03 (1950-03 if the day is unknown)', 'ja-easy': 'れい）1948-11-03' },
  reviewFieldHint: { ja: '氏名と生年月日の変更は、ほかの変更と重なったとき職員が確認してから反映されます。', en: 'Changes to names and dates of birth that overlap with another change apply after staff review.', 'ja-easy': 'なまえ と うまれた ひ は、しやくしょ が たしかめて から かわります。' },
  save: { ja: '保存', en: 'Save', 'ja-easy': 'のこす' },
  savedQueued: { ja: '保存しました。オンラインのときに送信します。', en: 'Saved. It is sent when you are online.', 'ja-easy': 'のこしました。インターネット に つながると おくります。' },
  nothingChanged: { ja: '変更はありません。', en: 'Nothing changed.', 'ja-easy': 'かわった ところ は ありません。' },
  pendingChanges: { ja: 'この世帯には送信待ちの変更があります。', en: 'This household has changes waiting to be sent.', 'ja-easy': 'まだ おくって いない もの が あります。' },
  contactLog: { ja: '連絡記録', en: 'Contact log', 'ja-easy': 'れんらく の きろく' },
  newLogEntry: { ja: '新しい記録', en: 'New entry', 'ja-easy': 'あたらしい きろく' },
  addLogEntry: { ja: '記録を追加', en: 'Add entry', 'ja-easy': 'きろく を ふやす' },
  noLogEntries: { ja: '記録はありません。', en: 'No entries yet.', 'ja-easy': 'きろく は ありません。' },
};

let current = 'ja';

/** The stored or default language (Japanese unless the user chose another). */
export function initialLang(storage = globalThis.localStorage) {
  try {
    const v = storage && storage.getItem(KEY);
    if (LANGS.includes(v)) return v;
  } catch { /* storage may be unavailable (private mode) */ }
  return 'ja';
}

export function setLang(lang, storage = globalThis.localStorage) {
  if (!LANGS.includes(lang)) lang = 'ja';
  current = lang;
  try { storage && storage.setItem(KEY, lang); } catch { /* ignore */ }
  return lang;
}

export function getLang() { return current; }

/** The BCP 47 tag for the lang attribute: やさしい日本語 is still Japanese. */
export function htmlLang(lang = current) { return lang === 'en' ? 'en' : 'ja'; }

function fill(s, vars) {
  return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
}

/** A UI string in the current language. */
export function t(key, vars, lang = current) {
  const e = S[key];
  if (!e) return key;
  return fill(e[lang] ?? e.ja, vars);
}

/** A localized text from the library ({ja, en, 'ja-easy'} or a plain string). */
export function tx(text, lang = current) {
  if (text == null) return '';
  if (typeof text === 'string') return text;
  if (lang === 'ja-easy') return text['ja-easy'] ?? text.ja ?? text.en ?? '';
  if (lang === 'en') return text.en ?? text.ja ?? '';
  return text.ja ?? text.en ?? '';
}

/** Whether tx() fell back to Japanese for an English reader (the element then gets lang="ja"). */
export function txLang(text, lang = current) {
  if (lang !== 'en' || text == null || typeof text === 'string') return htmlLang(lang) === 'en' && typeof text === 'string' ? 'ja' : htmlLang(lang);
  return text.en ? 'en' : 'ja';
}

export const STRINGS = S;

"""The words the demo company is made of: Japanese names with their romaji (for
e-mail addresses and domains), industries, regions and the texts CSMs and customers
write. Plain data; every list is ordered, so draws from it are reproducible.

Company names and domains are invented by combining these parts; a combination may
happen to match a real company, so a demo store must never be used to send e-mail.
"""

from __future__ import annotations

#: Family names (漢字, romaji), roughly in order of frequency.
FAMILY_NAMES: tuple[tuple[str, str], ...] = (
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
    ("伊藤", "ito"), ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"),
    ("小林", "kobayashi"), ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada"),
    ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"), ("井上", "inoue"),
    ("木村", "kimura"), ("林", "hayashi"), ("斎藤", "saito"), ("清水", "shimizu"),
    ("山崎", "yamazaki"), ("森", "mori"), ("池田", "ikeda"), ("橋本", "hashimoto"),
    ("阿部", "abe"), ("石川", "ishikawa"), ("山下", "yamashita"), ("中島", "nakajima"),
    ("石井", "ishii"), ("小川", "ogawa"), ("前田", "maeda"), ("岡田", "okada"),
    ("長谷川", "hasegawa"), ("藤田", "fujita"), ("後藤", "goto"), ("近藤", "kondo"),
    ("村上", "murakami"), ("遠藤", "endo"), ("青木", "aoki"), ("坂本", "sakamoto"),
    ("福田", "fukuda"), ("太田", "ota"), ("西村", "nishimura"), ("藤井", "fujii"),
    ("金子", "kaneko"), ("岡本", "okamoto"), ("藤原", "fujiwara"), ("中野", "nakano"),
    ("三浦", "miura"), ("原田", "harada"), ("中川", "nakagawa"), ("松田", "matsuda"),
    ("竹内", "takeuchi"), ("小野", "ono"), ("田村", "tamura"), ("中山", "nakayama"),
    ("和田", "wada"), ("石田", "ishida"), ("森田", "morita"), ("上田", "ueda"),
    ("原", "hara"), ("内田", "uchida"), ("柴田", "shibata"), ("酒井", "sakai"),
    ("宮崎", "miyazaki"), ("横山", "yokoyama"), ("高木", "takagi"), ("安藤", "ando"),
    ("宮本", "miyamoto"), ("小島", "kojima"), ("谷口", "taniguchi"), ("今井", "imai"),
    ("工藤", "kudo"), ("高田", "takada"), ("増田", "masuda"), ("丸山", "maruyama"),
    ("杉山", "sugiyama"), ("村田", "murata"), ("大塚", "otsuka"), ("新井", "arai"),
    ("小山", "koyama"), ("平野", "hirano"), ("藤本", "fujimoto"), ("河野", "kono"),
    ("上野", "ueno"), ("野口", "noguchi"), ("武田", "takeda"), ("松井", "matsui"),
    ("千葉", "chiba"), ("岩崎", "iwasaki"), ("菅原", "sugawara"), ("木下", "kinoshita"),
    ("久保", "kubo"), ("佐野", "sano"), ("野村", "nomura"), ("松尾", "matsuo"),
    ("市川", "ichikawa"), ("菊地", "kikuchi"), ("杉本", "sugimoto"), ("古川", "furukawa"),
    ("大西", "onishi"), ("島田", "shimada"), ("水野", "mizuno"), ("桜井", "sakurai"),
    ("高野", "takano"), ("吉川", "yoshikawa"), ("山内", "yamauchi"), ("西田", "nishida"),
    ("飯田", "iida"), ("西川", "nishikawa"), ("小松", "komatsu"), ("北村", "kitamura"),
    ("安田", "yasuda"), ("五十嵐", "igarashi"), ("川口", "kawaguchi"), ("平田", "hirata"),
    ("関", "seki"), ("中田", "nakata"), ("久保田", "kubota"), ("服部", "hattori"),
    ("東", "higashi"), ("岩田", "iwata"), ("土屋", "tsuchiya"), ("川崎", "kawasaki"),
    ("福島", "fukushima"), ("本田", "honda"), ("辻", "tsuji"), ("樋口", "higuchi"),
    ("秋山", "akiyama"), ("田口", "taguchi"), ("永井", "nagai"), ("山中", "yamanaka"),
    ("中西", "nakanishi"), ("吉村", "yoshimura"), ("大橋", "ohashi"), ("浅野", "asano"),
    ("荒木", "araki"), ("松岡", "matsuoka"), ("大野", "ono"), ("野田", "noda"),
)  # fmt: skip

#: Given names (漢字, romaji).
GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("太郎", "taro"), ("翔太", "shota"), ("大輔", "daisuke"), ("健太", "kenta"),
    ("拓也", "takuya"), ("直樹", "naoki"), ("誠", "makoto"), ("浩", "hiroshi"),
    ("隆", "takashi"), ("亮", "ryo"), ("翼", "tsubasa"), ("大樹", "daiki"),
    ("悠斗", "yuto"), ("蓮", "ren"), ("陽翔", "haruto"), ("和也", "kazuya"),
    ("達也", "tatsuya"), ("雄一", "yuichi"), ("健一", "kenichi"), ("俊介", "shunsuke"),
    ("慎也", "shinya"), ("剛", "tsuyoshi"), ("修", "osamu"), ("聡", "satoshi"),
    ("学", "manabu"), ("哲也", "tetsuya"), ("康平", "kohei"), ("裕太", "yuta"),
    ("祐介", "yusuke"), ("一郎", "ichiro"), ("正人", "masato"), ("洋平", "yohei"),
    ("樹", "itsuki"), ("智也", "tomoya"), ("圭", "kei"), ("淳", "jun"),
    ("花子", "hanako"), ("美咲", "misaki"), ("陽子", "yoko"), ("由美", "yumi"),
    ("恵", "megumi"), ("愛", "ai"), ("彩", "aya"), ("真由美", "mayumi"),
    ("直美", "naomi"), ("裕子", "yuko"), ("明美", "akemi"), ("智子", "tomoko"),
    ("久美子", "kumiko"), ("香織", "kaori"), ("麻衣", "mai"), ("沙織", "saori"),
    ("千尋", "chihiro"), ("葵", "aoi"), ("結衣", "yui"), ("さくら", "sakura"),
    ("七海", "nanami"), ("美穂", "miho"), ("理恵", "rie"), ("奈々", "nana"),
    ("彩花", "ayaka"), ("遥", "haruka"), ("杏奈", "anna"), ("菜々子", "nanako"),
    ("美香", "mika"), ("亜希子", "akiko"), ("恵子", "keiko"), ("幸子", "sachiko"),
    ("瞳", "hitomi"), ("舞", "mai"), ("優花", "yuka"), ("紗希", "saki"),
)  # fmt: skip

#: Stems of company names (文字, romaji); each romaji appears once.
COMPANY_STEMS: tuple[tuple[str, str], ...] = (
    ("さくら", "sakura"), ("ひかり", "hikari"), ("青葉", "aoba"), ("みらい", "mirai"),
    ("富士", "fuji"), ("大和", "yamato"), ("東洋", "toyo"), ("中央", "chuo"),
    ("北斗", "hokuto"), ("若葉", "wakaba"), ("朝日", "asahi"), ("三葉", "mitsuba"),
    ("みどり", "midori"), ("昭和", "showa"), ("令和", "reiwa"), ("明治", "meiji"),
    ("太陽", "taiyo"), ("銀河", "ginga"), ("星野", "hoshino"), ("日の出", "hinode"),
    ("白樺", "shirakaba"), ("桜木", "sakuragi"), ("青山", "aoyama"), ("丸の内", "marunouchi"),
    ("日進", "nisshin"), ("共栄", "kyoei"), ("協和", "kyowa"), ("昭栄", "shoei"),
    ("三和", "sanwa"), ("太平", "taihei"), ("東邦", "toho"), ("北辰", "hokushin"),
    ("瑞穂", "mizuho"), ("大樹", "taiju"), ("翠", "sui"), ("碧", "heki"),
    ("葵", "aoi"), ("楓", "kaede"), ("椿", "tsubaki"), ("菫", "sumire"),
    ("ネクスト", "next"), ("フューチャー", "future"), ("グローバル", "global"),
    ("サンライズ", "sunrise"), ("ブルースカイ", "bluesky"), ("グリーンフィールド", "greenfield"),
    ("オーシャン", "ocean"), ("フォレスト", "forest"), ("リバーサイド", "riverside"),
    ("クレスト", "crest"), ("ハーモニー", "harmony"), ("ビジョン", "vision"),
    ("アルファ", "alpha"), ("ノヴァ", "nova"), ("ステラ", "stella"), ("ルミナス", "luminous"),
    ("アクシス", "axis"), ("プライム", "prime"), ("エバーグリーン", "evergreen"), ("スマイル", "smile"),
    ("山田", "yamada"), ("高橋", "takahashi"), ("田中", "tanaka"), ("松本", "matsumoto"),
    ("小林", "kobayashi"), ("中村", "nakamura"), ("鈴木", "suzuki"), ("加藤", "kato"),
    ("吉田", "yoshida"), ("井上", "inoue"), ("木村", "kimura"), ("清水", "shimizu"),
    ("池田", "ikeda"), ("橋本", "hashimoto"), ("石川", "ishikawa"), ("前田", "maeda"),
    ("岡田", "okada"), ("藤田", "fujita"), ("近藤", "kondo"), ("村上", "murakami"),
    ("青木", "aoki"), ("坂本", "sakamoto"), ("福田", "fukuda"), ("西村", "nishimura"),
    ("金子", "kaneko"), ("岡本", "okamoto"), ("三浦", "miura"), ("原田", "harada"),
    ("松田", "matsuda"), ("竹内", "takeuchi"), ("中山", "nakayama"), ("和田", "wada"),
    ("石田", "ishida"), ("上田", "ueda"), ("内田", "uchida"), ("柴田", "shibata"),
    ("宮崎", "miyazaki"), ("横山", "yokoyama"), ("高木", "takagi"), ("宮本", "miyamoto"),
    ("丸山", "maruyama"), ("杉山", "sugiyama"), ("村田", "murata"), ("大塚", "otsuka"),
    ("野口", "noguchi"), ("武田", "takeda"), ("松井", "matsui"), ("岩崎", "iwasaki"),
    ("木下", "kinoshita"), ("野村", "nomura"), ("市川", "ichikawa"), ("島田", "shimada"),
    ("水野", "mizuno"), ("桜井", "sakurai"), ("高野", "takano"), ("西田", "nishida"),
    ("北村", "kitamura"), ("安田", "yasuda"), ("平田", "hirata"), ("秋山", "akiyama"),
    ("永井", "nagai"), ("荒木", "araki"), ("横浜", "yokohama"), ("大阪", "osaka"),
    ("名古屋", "nagoya"), ("京都", "kyoto"), ("神戸", "kobe"), ("札幌", "sapporo"),
    ("仙台", "sendai"), ("広島", "hiroshima"), ("福岡", "fukuoka"), ("北海道", "hokkaido"),
    ("九州", "kyushu"), ("関西", "kansai"), ("東北", "tohoku"), ("四国", "shikoku"),
    ("中部", "chubu"), ("湘南", "shonan"), ("信州", "shinshu"), ("北陸", "hokuriku"),
    ("瀬戸内", "setouchi"), ("房総", "boso"), ("武蔵野", "musashino"), ("多摩", "tama"),
    ("浪速", "naniwa"), ("博多", "hakata"), ("熊本", "kumamoto"), ("岡山", "okayama"),
    ("静岡", "shizuoka"), ("金沢", "kanazawa"), ("新潟", "niigata"), ("那覇", "naha"),
)  # fmt: skip

#: Place prefixes, used when a stem and a business word are already taken.
PLACE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("東京", "tokyo"), ("西日本", "nishinihon"), ("東日本", "higashinihon"), ("首都圏", "shutoken"),
    ("近畿", "kinki"), ("中国", "chugoku"), ("南九州", "minamikyushu"), ("北関東", "kitakanto"),
    ("城南", "jonan"), ("城北", "johoku"), ("湾岸", "wangan"), ("東海", "tokai"),
    ("山陰", "sanin"), ("山陽", "sanyo"), ("甲信", "koshin"), ("道央", "doo"),
    ("阪神", "hanshin"), ("京浜", "keihin"), ("中京", "chukyo"), ("南関東", "minamikanto"),
    ("日本", "nippon"), ("全国", "zenkoku"), ("新", "shin"), ("第一", "daiichi"),
)  # fmt: skip

#: Industry → business words (文字, romaji) that fit it.
INDUSTRY_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "製造業": (("工業", "kogyo"), ("製作所", "seisakusho"), ("精機", "seiki"), ("電機", "denki"),
              ("化学", "kagaku"), ("金属", "kinzoku"), ("機械", "kikai"), ("精密", "seimitsu"),
              ("マテリアル", "material"), ("テクノ", "techno")),
    "小売・EC": (("商店", "shoten"), ("ストア", "store"), ("マート", "mart"), ("リテール", "retail"),
               ("商事", "shoji"), ("オンライン", "online"), ("コマース", "commerce"), ("セレクト", "select")),
    "IT・通信": (("システムズ", "systems"), ("テクノロジーズ", "technologies"), ("ソフト", "soft"),
               ("ネットワークス", "networks"), ("デジタル", "digital"), ("ラボ", "lab"),
               ("ソリューションズ", "solutions"), ("データ", "data"), ("クラウド", "cloud"), ("情報システム", "joho")),
    "金融・保険": (("ファイナンス", "finance"), ("保険サービス", "hoken"), ("キャピタル", "capital"),
               ("証券", "shoken"), ("リース", "lease"), ("アセット", "asset"), ("信用保証", "shinyo")),
    "医療・福祉": (("メディカル", "medical"), ("ケア", "care"), ("ヘルスケア", "healthcare"),
               ("薬品", "yakuhin"), ("ライフサポート", "lifesupport"), ("福祉サービス", "fukushi")),
    "不動産": (("不動産", "fudosan"), ("エステート", "estate"), ("ハウジング", "housing"),
            ("地所", "jisho"), ("リアルティ", "realty"), ("住宅", "jutaku")),
    "人材サービス": (("スタッフ", "staff"), ("キャリア", "career"), ("人材センター", "jinzai"),
               ("エージェント", "agent"), ("ワークス", "works"), ("パートナーズ", "partners")),
    "物流": (("運輸", "unyu"), ("ロジスティクス", "logistics"), ("物流", "butsuryu"), ("倉庫", "soko"),
           ("運送", "unso"), ("エクスプレス", "express"), ("海運", "kaiun")),
    "教育": (("教育", "kyoiku"), ("アカデミー", "academy"), ("スクール", "school"),
           ("ゼミナール", "seminar"), ("教育センター", "edu"), ("ラーニング", "learning")),
    "飲食": (("フーズ", "foods"), ("ダイニング", "dining"), ("食堂", "shokudo"), ("キッチン", "kitchen"),
           ("食品", "shokuhin"), ("カフェ", "cafe"), ("珈琲", "coffee")),
    "建設": (("建設", "kensetsu"), ("工務店", "komuten"), ("建工", "kenko"), ("設備", "setsubi"),
           ("土木", "doboku"), ("ホーム", "home"), ("組", "gumi")),
    "広告・メディア": (("広告", "kokoku"), ("メディア", "media"), ("エージェンシー", "agency"),
                ("プロダクション", "production"), ("出版", "shuppan"), ("企画", "kikaku"),
                ("クリエイティブ", "creative")),
}  # fmt: skip

#: Industries and how common they are among the customers.
INDUSTRIES: tuple[tuple[str, float], ...] = (
    ("製造業", 18), ("小売・EC", 12), ("IT・通信", 16), ("金融・保険", 6), ("医療・福祉", 7),
    ("不動産", 6), ("人材サービス", 8), ("物流", 6), ("教育", 5), ("飲食", 5), ("建設", 6),
    ("広告・メディア", 5),
)  # fmt: skip

#: Prefecture, region, weight.
PREFECTURES: tuple[tuple[str, str, float], ...] = (
    ("東京都", "関東", 34), ("神奈川県", "関東", 8), ("埼玉県", "関東", 4), ("千葉県", "関東", 4),
    ("茨城県", "関東", 1.5), ("栃木県", "関東", 1), ("大阪府", "関西", 11), ("京都府", "関西", 3),
    ("兵庫県", "関西", 4), ("愛知県", "中部", 7), ("静岡県", "中部", 2), ("長野県", "中部", 1),
    ("新潟県", "中部", 1), ("石川県", "中部", 1), ("福岡県", "九州・沖縄", 4), ("熊本県", "九州・沖縄", 1),
    ("沖縄県", "九州・沖縄", 1), ("北海道", "北海道", 3), ("宮城県", "東北", 2), ("広島県", "中国", 2),
    ("岡山県", "中国", 1), ("香川県", "四国", 0.7), ("愛媛県", "四国", 0.7),
)  # fmt: skip

#: Where a customer came from (custom field ``source``).
LEAD_SOURCES: tuple[tuple[str, float], ...] = (
    ("Web問い合わせ", 30), ("展示会", 15), ("紹介", 15), ("ウェビナー", 12), ("パートナー", 10),
    ("アウトバウンド", 10), ("比較サイト", 8),
)  # fmt: skip

#: Roles of customer contacts; the first two are given to one contact each.
DECISION_MAKER = "決裁者"
ADMINISTRATOR = "管理者"
OTHER_CONTACT_ROLES: tuple[tuple[str, float], ...] = (
    ("担当者", 40), ("利用者", 40), ("情報システム部", 8), ("経理担当", 6), ("部門長", 6),
)  # fmt: skip

#: Why customers leave: (reason, weight when engagement was low, weight otherwise).
CANCEL_REASONS: tuple[tuple[str, float, float], ...] = (
    ("利用定着せず", 40, 5), ("予算削減", 15, 25), ("競合製品へ移行", 15, 20),
    ("事業縮小", 5, 12), ("担当者の退職・異動", 12, 8), ("機能不足", 8, 10),
    ("価格が高い", 6, 12), ("社内システムへ統合", 2, 6), ("会社の合併・買収", 1, 4),
)  # fmt: skip

#: Why an add-on alone is dropped.
ADDON_CANCEL_REASONS: tuple[str, ...] = ("利用頻度が低い", "予算削減", "社内ツールで代替", "契約内容の見直し")

#: Reason recorded on a line closed by an upgrade or downgrade.
PLAN_CHANGE = "plan_change"

TICKET_SUBJECTS: tuple[str, ...] = (
    "ログインできない", "パスワードの再設定について", "CSVインポートでエラーが発生する",
    "レポートの出力方法について", "請求書の再発行依頼", "SSO設定について", "API連携でエラーが返る",
    "ユーザーの追加方法", "権限設定について", "ダッシュボードの表示が遅い", "データ連携が止まっている",
    "契約プランの変更について", "ワークフローが実行されない", "通知メールが届かない",
    "エクスポートしたファイルが文字化けする", "二段階認証の設定方法", "利用ユーザー数の確認",
    "支払い方法の変更", "新機能の使い方について", "グラフの集計値が合わない",
    "モバイルアプリで表示できない", "管理者の変更手続き", "解約手続きについて", "トライアル延長の相談",
)  # fmt: skip

#: NPS comments by category: promoters (9–10), passives (7–8), detractors (0–6).
NPS_COMMENTS: dict[str, tuple[str, ...]] = {
    "promoter": (
        "サポートの対応が早く、いつも助かっています。", "レポート作成の時間が大幅に減りました。",
        "画面が見やすく、社内でも好評です。", "他部署にも展開したいと考えています。",
        "担当CSの方の提案がとても役立っています。", "データ連携が安定していて安心して使えます。",
    ),
    "passive": (
        "概ね満足していますが、動作が重いときがあります。", "機能は十分ですが、価格がもう少し安いと嬉しいです。",
        "設定がやや複雑に感じます。", "便利ですが、まだ一部の部署でしか使われていません。",
        "英語の画面が混ざるのが少し気になります。",
    ),
    "detractor": (
        "社内で使われておらず、効果が見えません。", "ログインできない障害が何度かあり困りました。",
        "欲しい機能がなく、他社製品を検討しています。", "サポートの回答に時間がかかります。",
        "価格に見合う価値を感じません。", "導入時の説明が不十分でした。",
    ),
}  # fmt: skip

CSAT_COMMENTS: tuple[tuple[str, ...], ...] = (
    ("期待していた内容と違いました。", "説明が分かりにくかったです。"),  # 1–2
    ("普通でした。", "もう少し具体的な事例が欲しかったです。"),  # 3
    ("丁寧に対応いただきありがとうございました。", "分かりやすいトレーニングでした。", "すぐに社内で活用できそうです。"),  # 4–5
)  # fmt: skip

#: Activities: kind → ((subject, summary template), ...). ``{contact}`` is the customer's name.
MEETINGS: tuple[tuple[str, str], ...] = (
    ("定例ミーティング", "{contact}様と月次の定例。利用状況を共有し、次月の活用テーマを合意。"),
    ("活用促進ワークショップ", "{contact}様のチーム向けにレポート機能のハンズオンを実施。"),
    ("新機能のご紹介", "{contact}様に新しいワークフロー機能をデモ。前向きな反応。"),
    ("運用改善の打ち合わせ", "{contact}様と現在の運用課題を整理し、改善案を提示。"),
)  # fmt: skip
QBR = ("四半期ビジネスレビュー（QBR）", "{contact}様と四半期の成果と目標の進捗を確認。次四半期の重点施策を合意。")
KICKOFF = ("キックオフミーティング", "{contact}様と導入目的・体制・スケジュールを確認。")
RENEWAL_MEETING = ("更新に向けた打ち合わせ", "{contact}様と契約更新の条件と今後の活用計画について協議。")
CALLS: tuple[tuple[str, str], ...] = (
    ("利用状況の確認", "{contact}様に電話。最近の利用状況と困りごとを確認。"),
    ("課題ヒアリング", "{contact}様から現場の課題をヒアリング。次回までに改善案を準備する。"),
    ("フォローアップの電話", "{contact}様へ先日の問い合わせ後のフォロー。解決済みとのこと。"),
    ("更新意向のヒアリング", "{contact}様に次回更新の意向を確認。社内で検討中。"),
)  # fmt: skip
CHURN_CALL = ("解約理由のヒアリング", "{contact}様から解約の理由を伺った。理由: {reason}。")
EMAILS: tuple[tuple[str, str], ...] = (
    ("新機能リリースのご案内", "{contact}様へ今月のリリース情報を送付。"),
    ("ウェビナーのご案内", "{contact}様へ活用ウェビナーの案内を送付。"),
    ("利用状況レポートの送付", "{contact}様へ先月の利用状況レポートを送付。"),
    ("トレーニング資料の送付", "{contact}様へ管理者向けトレーニング資料を送付。"),
    ("アンケートご協力のお願い", "{contact}様へ満足度アンケートの依頼を送付。"),
    ("請求に関するご連絡", "{contact}様へ請求書送付先の変更について連絡。"),
)  # fmt: skip
NOTES: tuple[tuple[str, str], ...] = (
    ("担当者変更の共有", "先方の推進担当が{contact}様に交代予定。引き継ぎを依頼済み。"),
    ("競合製品の検討状況", "{contact}様によると、他部署で競合製品の比較が始まっている。"),
    ("予算状況メモ", "来期予算は{contact}様の部門で確保済みとのこと。"),
    ("社内展開の状況", "{contact}様の部署以外への展開は来期以降の予定。"),
)  # fmt: skip

#: Onboarding steps in order, with the days after start they are due.
ONBOARDING_STEPS: tuple[tuple[str, int], ...] = (
    ("キックオフ", 7), ("初期設定", 14), ("管理者トレーニング", 30), ("初回レポート作成", 45), ("全社展開", 75),
)  # fmt: skip

#: Success goals: title, metric, baseline, target (a lower target means "reduce").
GOALS: tuple[tuple[str, str, float, float], ...] = (
    ("営業レポート作成時間の削減", "月間作業時間（時間）", 120.0, 40.0),
    ("ダッシュボードの全社活用", "週次アクティブ率（%）", 20.0, 70.0),
    ("顧客解約率の改善", "月次解約率（%）", 3.0, 1.5),
    ("問い合わせ対応の効率化", "平均対応時間（分）", 45.0, 20.0),
    ("データ連携の自動化", "自動連携ワークフロー数", 0.0, 10.0),
    ("経営会議資料の自動化", "手作業のレポート数", 15.0, 3.0),
    ("利用部門の拡大", "利用部門数", 1.0, 5.0),
    ("現場の満足度向上", "社内満足度スコア（5段階）", 3.2, 4.2),
)  # fmt: skip

#: CSM tasks: (title, description).
TASK_RENEWAL = ("更新前の利用状況レビュー", "更新日までに利用状況と成果を整理し、更新提案を準備する。")
TASK_DECLINE = ("利用低下アカウントへのフォローアップ", "ログイン数が減っている。推進担当者に状況を確認する。")
TASK_ONBOARDING = ("オンボーディング進捗の確認", "初期設定とトレーニングの進み具合を確認する。")
TASK_QBR = ("QBRの準備", "四半期の利用実績と目標の進捗をまとめる。")
TASK_DETRACTOR = ("NPS批判者へのフォローアップ", "低いスコアの理由をヒアリングし、改善策を提示する。")
TASK_UPSELL = ("アップセル提案の準備", "利用が好調。上位プランまたはオプションの提案を準備する。")
TASK_GENERAL: tuple[tuple[str, str], ...] = (
    ("キーパーソン変更の確認", "推進担当者の異動の噂がある。後任を確認する。"),
    ("トレーニング実施の日程調整", "新任の管理者向けにトレーニングを設定する。"),
    ("請求内容の確認依頼への対応", "経理担当から請求金額の確認依頼。内訳を送付する。"),
    ("ヘルススコア低下の原因調査", "直近のチケットと利用データを確認する。"),
    ("活用事例インタビューの依頼", "成果が出ているため、事例掲載を打診する。"),
)  # fmt: skip
TEAM_TASKS: tuple[tuple[str, str], ...] = (
    ("週次レポートの作成", "担当アカウントの状況をチームに共有する。"),
    ("ヘルススコアの閾値見直し", "直近の解約事例を踏まえて閾値を見直す。"),
    ("オンボーディング資料の更新", "新機能に合わせて資料を更新する。"),
)  # fmt: skip

#: Event properties for each feature key.
FEATURE_PROPERTIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reports": ("report_type", ("売上", "利用状況", "解約分析", "パイプライン")),
    "dashboards": ("dashboard", ("経営サマリー", "営業", "カスタマーサクセス", "サポート")),
    "workflows": ("workflow", ("請求書送付", "リード割り当て", "更新リマインド")),
    "integrations": ("integration", ("Salesforce", "kintone", "Slack", "freee", "HubSpot")),
    "exports": ("format", ("csv", "xlsx", "pdf")),
    "api": ("endpoint", ("/v1/accounts", "/v1/usage", "/v1/contacts")),
}

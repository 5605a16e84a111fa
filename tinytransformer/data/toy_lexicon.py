"""The toy corpus's lexicon: every English word with its Chinese, measure word and grammar tags.

The grammar that puts these words together is in `toy.py`. Chinese facts this table encodes:

- a counted noun needs its measure word: 一只猫, 两本书, 三辆车, 一杯茶 ("a cup of tea");
- 2 before a measure word is 两, never 二;
- one-syllable adjectives join the noun directly (大狗, 新书, 热茶), longer ones take 的
  (红色的车, 可爱的猫);
- "play" is a different verb for each game or instrument (打篮球, 踢足球, 弹钢琴, 下棋, 玩游戏).
"""

from __future__ import annotations

from typing import NamedTuple


class Word(NamedTuple):
    en: str
    zh: str


class Adjective(NamedTuple):
    en: str
    zh: str  # with 的 when the adjective needs it before a noun


class Noun(NamedTuple):
    en: str
    plural: str  # same as `en` for mass nouns
    zh: str
    measure: str  # measure word (量词) used after a number
    adjectives: tuple[str, ...]  # English adjectives that may modify it
    unit: tuple[str, str] | None = None  # ("cup", "cups") for "a cup of tea"
    play: tuple[str, str] | None = None  # ("the piano", "弹") for "play the piano"


class Verb(NamedTuple):
    en: str
    third: str  # he ___
    past: str
    zh: str
    objects: tuple[str, ...]
    places: tuple[str, ...] = ()
    stative: bool = False  # like, have, want, need: present tense, no time or place phrase
    counted: bool = True  # object may be "a cat", "two cats"
    generic: bool = True  # object may be a bare plural, "cats"
    possessed: bool = True  # object may be "my cat", "tom's cat"
    tenses: tuple[str, ...] = ("present", "past", "future")


class Subject(NamedTuple):
    en: str
    zh: str
    person: str  # "1sg", "2", "3sg" or "pl": picks "reads"/"read" and "does"/"do"


def _adj(text: str) -> tuple[str, ...]:
    return tuple(text.split())


COLOURS = _adj("red blue black white green yellow")
ANIMAL = _adj("big small cute black white")
THING = (*COLOURS, *_adj("new old cheap expensive beautiful"))
PLAIN = _adj("new old")

ADJECTIVES = {a.en: a for a in [
    Adjective("big", "大"), Adjective("small", "小"), Adjective("new", "新"),
    Adjective("old", "旧"), Adjective("hot", "热"),
    Adjective("red", "红色的"), Adjective("blue", "蓝色的"), Adjective("black", "黑色的"),
    Adjective("white", "白色的"), Adjective("green", "绿色的"), Adjective("yellow", "黄色的"),
    Adjective("cute", "可爱的"), Adjective("cheap", "便宜的"), Adjective("expensive", "很贵的"),
    Adjective("beautiful", "漂亮的"), Adjective("interesting", "有趣的"),
]}

NOUNS = {n.en: n for n in [
    Noun("cat", "cats", "猫", "只", ANIMAL), Noun("dog", "dogs", "狗", "只", ANIMAL),
    Noun("bird", "birds", "鸟", "只", ANIMAL), Noun("fish", "fish", "鱼", "条", ANIMAL),
    Noun("rabbit", "rabbits", "兔子", "只", ANIMAL), Noun("horse", "horses", "马", "匹", ANIMAL),
    Noun("book", "books", "书", "本", _adj("new old interesting cheap")),
    Noun("magazine", "magazines", "杂志", "本", _adj("new old interesting")),
    Noun("newspaper", "newspapers", "报纸", "份", ("old",)),
    Noun("letter", "letters", "信", "封", ("old",)),
    Noun("map", "maps", "地图", "张", PLAIN), Noun("ticket", "tickets", "票", "张", ()),
    Noun("photo", "photos", "照片", "张", PLAIN),
    Noun("picture", "pictures", "画", "幅", ("beautiful",)),
    Noun("movie", "movies", "电影", "部", _adj("new old interesting")),
    Noun("song", "songs", "歌", "首", _adj("new old beautiful")),
    Noun("flower", "flowers", "花", "朵", _adj("red white yellow beautiful small")),
    Noun("car", "cars", "车", "辆", THING), Noun("bike", "bikes", "自行车", "辆", THING),
    Noun("pen", "pens", "笔", "支", (*COLOURS, "new", "cheap")),
    Noun("bag", "bags", "包", "个", THING), Noun("hat", "hats", "帽子", "顶", THING),
    Noun("shirt", "shirts", "衬衫", "件", THING), Noun("coat", "coats", "外套", "件", THING),
    Noun("scarf", "scarves", "围巾", "条", THING),
    Noun("umbrella", "umbrellas", "伞", "把", THING),
    Noun("chair", "chairs", "椅子", "把", THING), Noun("table", "tables", "桌子", "张", THING),
    Noun("cup", "cups", "杯子", "个", THING), Noun("key", "keys", "钥匙", "把", PLAIN),
    Noun("phone", "phones", "手机", "部", _adj("new old cheap expensive black white")),
    Noun("computer", "computers", "电脑", "台", _adj("new old cheap expensive black white")),
    Noun("house", "houses", "房子", "栋", _adj("big small new old white beautiful expensive")),
    Noun("piano", "pianos", "钢琴", "架", _adj("new old black"), play=("the piano", "弹")),
    Noun("guitar", "guitars", "吉他", "把", _adj("new old cheap"), play=("the guitar", "弹")),
    Noun("basketball", "basketballs", "篮球", "个", PLAIN, play=("basketball", "打")),
    Noun("football", "footballs", "足球", "个", PLAIN, play=("football", "踢")),
    Noun("tennis", "tennis", "网球", "", (), play=("tennis", "打")),
    Noun("chess", "chess", "棋", "", (), play=("chess", "下")),
    Noun("game", "games", "游戏", "", (), play=("games", "玩")),
    Noun("apple", "apples", "苹果", "个", _adj("big small")),
    Noun("banana", "bananas", "香蕉", "根", _adj("big small")),
    Noun("orange", "oranges", "橙子", "个", _adj("big small")),
    Noun("egg", "eggs", "鸡蛋", "个", _adj("big small")),
    Noun("cake", "cakes", "蛋糕", "个", _adj("big small")),
    Noun("bread", "bread", "面包", "块", (), unit=("piece", "pieces")),
    Noun("rice", "rice", "米饭", "碗", (), unit=("bowl", "bowls")),
    Noun("noodles", "noodles", "面条", "碗", ("hot",), unit=("bowl", "bowls")),
    Noun("tea", "tea", "茶", "杯", ("hot",), unit=("cup", "cups")),
    Noun("coffee", "coffee", "咖啡", "杯", ("hot",), unit=("cup", "cups")),
    Noun("water", "water", "水", "杯", ("hot",), unit=("glass", "glasses")),
    Noun("milk", "milk", "牛奶", "杯", ("hot",), unit=("glass", "glasses")),
    Noun("juice", "juice", "果汁", "杯", (), unit=("glass", "glasses")),
]}

ANIMALS = _adj("cat dog bird fish rabbit horse")
FOOD = _adj("apple banana orange egg cake bread rice noodles")
DRINKS = _adj("tea coffee water milk juice")
THINGS = _adj("car bike pen bag hat shirt coat scarf umbrella chair table cup key phone "
              "computer house piano guitar flower")

PLACES = {w.en: w for w in [
    Word("at home", "在家"), Word("at school", "在学校"), Word("in the park", "在公园"),
    Word("in the library", "在图书馆"), Word("at the office", "在办公室"),
    Word("in the kitchen", "在厨房"), Word("at the cafe", "在咖啡馆"),
    Word("in the garden", "在花园"), Word("at the store", "在商店"),
    Word("at the market", "在市场"), Word("in the restaurant", "在餐厅"),
    Word("on the train", "在火车上"), Word("on the bus", "在公共汽车上"),
    Word("at the station", "在车站"),
]}


def _places(text: str) -> tuple[str, ...]:
    """'home park train' -> ('at home', 'in the park', 'on the train')."""
    return tuple(next(p for p in PLACES if p.split()[-1] == w) for w in text.split())


VERBS = {v.en: v for v in [
    Verb("like", "likes", "liked", "喜欢", (*ANIMALS, *FOOD, *DRINKS, *THINGS, "book", "movie",
         "song"), stative=True, counted=False),
    Verb("have", "has", "had", "有", (*ANIMALS, *THINGS, "book", "map", "ticket"), stative=True,
         generic=False, possessed=False),
    Verb("want", "wants", "wanted", "想要", (*ANIMALS, *THINGS, *FOOD, *DRINKS, "book", "ticket"),
         stative=True, generic=False),
    Verb("need", "needs", "needed", "需要", (*THINGS, "map", "ticket", "water", "book"),
         stative=True, generic=False),
    Verb("buy", "buys", "bought", "买", (*ANIMALS, *THINGS, *FOOD, *DRINKS, "book", "magazine",
         "newspaper", "map", "ticket"), _places("store market station")),
    Verb("sell", "sells", "sold", "卖", (*THINGS, *FOOD, "fish", "book", "newspaper", "ticket"),
         _places("store market station")),
    Verb("read", "reads", "read", "看", _adj("book magazine newspaper letter"),
         _places("home school park library office cafe train bus")),
    Verb("write", "writes", "wrote", "写", _adj("letter book song"),
         _places("home school office library cafe")),
    Verb("draw", "draws", "drew", "画", (*ANIMALS, "picture", "map", "car", "house", "flower"),
         _places("home school park garden")),
    Verb("eat", "eats", "ate", "吃", FOOD, _places("home school kitchen restaurant cafe train")),
    Verb("drink", "drinks", "drank", "喝", DRINKS, _places("home cafe office kitchen restaurant")),
    Verb("watch", "watches", "watched", "看", ("movie",), _places("home school train"),
         possessed=False),
    Verb("sing", "sings", "sang", "唱", ("song",), _places("home school park"), possessed=False),
    Verb("see", "sees", "saw", "看见", (*ANIMALS, "car", "house", "flower"),
         _places("park garden market station"), tenses=("past",)),
    Verb("feed", "feeds", "fed", "喂", ANIMALS, _places("home park garden")),
    Verb("wash", "washes", "washed", "洗", ("car", "bike", "cup", "shirt", "coat", "apple"),
         _places("home kitchen garden")),
    Verb("play", "plays", "played", "", _adj("basketball football tennis chess game piano guitar"),
         _places("home school park"), counted=False, possessed=False),
]}

PEOPLE = [
    Subject("i", "我", "1sg"), Subject("you", "你", "2"), Subject("he", "他", "3sg"),
    Subject("she", "她", "3sg"), Subject("we", "我们", "pl"), Subject("they", "他们", "pl"),
    Subject("tom", "汤姆", "3sg"), Subject("mary", "玛丽", "3sg"), Subject("john", "约翰", "3sg"),
    Subject("lucy", "露西", "3sg"), Subject("jack", "杰克", "3sg"), Subject("anna", "安娜", "3sg"),
    Subject("david", "大卫", "3sg"), Subject("emma", "艾玛", "3sg"),
    # close relations take no 的 after a pronoun (我朋友, 我妈妈); other owners do (他的老师)
    Subject("my friend", "我朋友", "3sg"), Subject("my mother", "我妈妈", "3sg"),
    Subject("my father", "我爸爸", "3sg"), Subject("his teacher", "他的老师", "3sg"),
    Subject("our teacher", "我们的老师", "3sg"), Subject("tom's friend", "汤姆的朋友", "3sg"),
    Subject("the children", "孩子们", "pl"), Subject("the students", "学生们", "pl"),
]
SUBJECTS = {s.en: s for s in PEOPLE}

OWNERS = {w.en: w for w in [
    Word("my", "我的"), Word("your", "你的"), Word("his", "他的"), Word("her", "她的"),
    Word("our", "我们的"), Word("their", "他们的"), Word("tom's", "汤姆的"),
    Word("mary's", "玛丽的"), Word("my friend's", "我朋友的"), Word("my mother's", "我妈妈的"),
    Word("my father's", "我爸爸的"),
]}

# time phrases by tense; Chinese puts them after the subject, English at either end
TIMES = {
    "present": [Word("every day", "每天"), Word("every morning", "每天早上"),
                Word("in the morning", "早上"), Word("in the afternoon", "下午"),
                Word("in the evening", "晚上"), Word("on sundays", "星期天"),
                Word("on weekends", "周末")],
    "past": [Word("yesterday", "昨天"), Word("yesterday morning", "昨天早上"),
             Word("last night", "昨天晚上"), Word("this morning", "今天早上"),
             Word("last week", "上个星期"), Word("last sunday", "上个星期天"),
             Word("last year", "去年")],
    "future": [Word("tomorrow", "明天"), Word("tomorrow morning", "明天早上"),
               Word("tonight", "今天晚上"), Word("next week", "下个星期"),
               Word("next sunday", "下个星期天"), Word("next year", "明年")],
}

NUMBERS = [Word("a", "一"), Word("two", "两"), Word("three", "三"), Word("four", "四"),
           Word("five", "五"), Word("six", "六"), Word("seven", "七"), Word("eight", "八"),
           Word("nine", "九"), Word("ten", "十")]

# for the bias experiment: "the nurse said she ..." -> 护士说她……
OCCUPATIONS = {w.en: w for w in [
    Word("doctor", "医生"), Word("nurse", "护士"), Word("teacher", "老师"),
    Word("engineer", "工程师"), Word("driver", "司机"), Word("cook", "厨师"),
    Word("lawyer", "律师"), Word("farmer", "农民"), Word("singer", "歌手"),
    Word("pilot", "飞行员"), Word("secretary", "秘书"), Word("scientist", "科学家"),
    Word("writer", "作家"), Word("programmer", "程序员"), Word("cleaner", "清洁工"),
]}


def lexicon_size() -> dict[str, int]:
    """How many entries each part of the lexicon has, and their total."""
    parts = {"subjects": len(PEOPLE), "verbs": len(VERBS), "nouns": len(NOUNS),
             "adjectives": len(ADJECTIVES), "owners": len(OWNERS), "places": len(PLACES),
             "times": sum(len(t) for t in TIMES.values()), "numbers": len(NUMBERS),
             "occupations": len(OCCUPATIONS)}
    return {**parts, "total": sum(parts.values())}

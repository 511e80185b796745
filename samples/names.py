"""Names for sample cases: people, companies and addresses that read like the real ones.

Every function draws from the `rng` it is given, so a caller that passes a seeded `random.Random` gets
the same names on every run; the order of the draws is part of that promise (the generated cases and the
search benchmark's rows depend on it).
"""

from __future__ import annotations

import random

from samples.identifiers import District, Region

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)
GIVEN_NAMES = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华飞玲萍鹏辉波宁浩宇轩涵欣怡婷雪琳"
    "晨阳俊峰斌凯佳颖东海燕红梅丹亮成林云龙志文立新国庆建卫思远博雅子睿嘉"
)
TRADE_A = "恒鑫华博安中瑞通嘉宏天永明汇新智盛金创德星锦启远正众海卓鼎同泰"
TRADE_B = "信源泰远诚科丰达禾图成德智锐联世桥润河程航景和合纳越创辉盈"
STREETS = (
    "文三路",
    "学院路",
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "科技大道",
    "滨河路",
    "创业路",
    "金鸡路",
    "长江路",
    "新华路",
    "湖滨路",
    "东环路",
    "工业园路",
)


def person_name(rng: random.Random) -> str:
    """A surname and a one- or two-character given name (two in two of three)."""
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_NAMES) for _ in range(rng.choice((1, 2, 2))))


def trade_name(rng: random.Random) -> str:
    """The two-character trade name (字号) of a company: 恒信, 瑞达, ..."""
    return rng.choice(TRADE_A) + rng.choice(TRADE_B)


def company_name(rng: random.Random, place: str, industries: tuple[str, ...]) -> str:
    """`place` + trade name + one of `industries` + 有限公司: 杭州恒信科技有限公司."""
    return f"{place}{trade_name(rng)}{rng.choice(industries)}有限公司"


def address(rng: random.Random, region: Region) -> tuple[District, str]:
    """A street address in one of `region`'s districts, and that district."""
    district = rng.choice(region.districts)
    text = f"{region.province}{region.name}{district.name}{rng.choice(STREETS)}{rng.randint(1, 999)}号"
    return district, text

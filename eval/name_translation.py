"""Can the generator put an English name into Chinese? (issue #14 item 8: English names left in Chinese answers)

Chinese answers drawn from English passages keep some names in English ("京东工业互联网平台在 Changzhou落地",
"Yangshan Deepwater Port和Shentong Metro"). Before translating them by code with the local generator,
this measures how often it gives the usual Chinese name, on 50 names of the seed articles' kind with their
accepted Chinese forms (`eval/names_zh.json`), one name per prompt, greedy.

    python eval/name_translation.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.generate import load_generator  # noqa: E402
from rag.settings import load_settings  # noqa: E402

SYSTEM = ("把英文专有名词（地名、机构、公司、人名、活动）译成中文里通用的写法。每行一个，格式：英文 => 中文。"
          "不知道通用译名时照音译或意译，不要解释。")
EXAMPLE = ("Nanjing\nTsinghua University\nAlibaba\nLi Keqiang",
           "Nanjing => 南京\nTsinghua University => 清华大学\nAlibaba => 阿里巴巴\nLi Keqiang => 李克强")


def main() -> int:
    gold = json.loads((Path(__file__).parent / "names_zh.json").read_text(encoding="utf-8"))
    gen = load_generator(load_settings())
    right, t0 = 0, time.perf_counter()
    for name, accepted in gold.items():
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": EXAMPLE[0]},
                {"role": "assistant", "content": EXAMPLE[1]}, {"role": "user", "content": name}]
        reply = "".join(gen.stream(msgs, max_tokens=20)).strip()
        got = reply.split("=>", 1)[1].strip() if "=>" in reply else reply
        right += got in accepted
        print(f"{'right' if got in accepted else 'WRONG'}  {name} -> {got}" + ("" if got in accepted else f"  ({accepted[0]})"))
    print(f"{right} / {len(gold)} right in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

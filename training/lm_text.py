"""The shipped language model's text (models/earshot-en-lm.txt): the command domain the recognizer
serves, for the engine's n-gram shallow fusion (recognizer.lm). Two parts, one sentence a line:
- sentences of the training text generator (textgen.py: home and car commands, numbers, times,
  letters, replies);
- the short transcripts (at most --max-words words: words, digits, letters, object names) of every
  `train` row of ../shared/data, as often as they occur there. Read sentences are left out: prose
  is not the domain, and VCTK's speakers read the same paragraphs, dev speakers included.

    /usr/bin/python3 -m training.lm_text --data ../shared/data --out models/earshot-en-lm.txt
"""
import argparse
import collections

from training.earshot.textgen import TextGenerator
from training.real_pack import manifest_rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="models/earshot-en-lm.txt")
    ap.add_argument("--sentences", type=int, default=20000, help="lines of the text generator")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-words", type=int, default=3)
    args = ap.parse_args(argv)
    gen = TextGenerator(seed=args.seed)
    lines = [gen.sentence() for _ in range(args.sentences)]
    short = [text for _, _, _, text, _ in manifest_rows(args.data, {"train"}) if len(text.split()) <= args.max_words]
    lines += short
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(
            f"# earshot-en language model text: {args.sentences} sentences of training/earshot/textgen.py (seed "
            f"{args.seed}) and the {len(short)} short transcripts of ../shared/data's train rows "
            f"(python3 -m training.lm_text)\n"
        )
        f.write("\n".join(lines) + "\n")
    top = collections.Counter(short).most_common(5)
    print(f"{len(lines)} lines ({len(short)} short train transcripts, most common {top}) -> {args.out}")


if __name__ == "__main__":
    main()

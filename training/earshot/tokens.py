"""Character tokens of the shipped model: id 0 `<blk>`, `▁` (word space), a-z, apostrophe."""

BLANK = "<blk>"
SPACE = "\u2581"
TOKENS = [BLANK, SPACE] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
_ID = {t: i for i, t in enumerate(TOKENS)}


def encode(text: str):
    """Spoken-form text (lower case letters, apostrophes, single spaces) -> token ids."""
    ids = []
    for ch in " ".join(text.split()):
        tok = SPACE if ch == " " else ch
        if tok not in _ID or tok == BLANK:
            raise ValueError(f"character {ch!r} is not in the token set (text: {text!r})")
        ids.append(_ID[tok])
    return ids


def decode(ids) -> str:
    """As the engine: join token strings, `▁` -> space, trim."""
    return "".join(TOKENS[i] for i in ids if i != 0).replace(SPACE, " ").strip()

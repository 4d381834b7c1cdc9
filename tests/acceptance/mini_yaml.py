"""The block-YAML subset acceptance-test-config.yml uses (the standard library has no YAML):
nested mappings, lists of mappings or scalars ("- "), plain or quoted scalars, yes/no/true/false,
integers, '#' comments. Anything else (flow style, anchors, multi-line strings) is refused."""


def _scalar(text):
    text = text.strip()
    if text[:1] in "\"'":
        if len(text) < 2 or text[-1] != text[0]:
            raise ValueError("unterminated quoted scalar: " + text)
        return text[1:-1]
    if text[:1] in "[{&*|>":
        raise ValueError("unsupported YAML: " + text)
    low = text.lower()
    if low in ("yes", "true"):
        return True
    if low in ("no", "false"):
        return False
    if low in ("null", "~", ""):
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _strip_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def loads(text):
    lines = []
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if line.strip():
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise ValueError("unexpected indentation at: " + lines[end][1])
    return value


def _block(lines, i, indent):
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        return _list(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines, i, indent):
    out = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
        key, sep, rest = lines[i][1].partition(":")
        if not sep:
            raise ValueError("expected 'key: value' at: " + lines[i][1])
        i += 1
        if rest.strip():
            out[key.strip()] = _scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))):
            out[key.strip()], i = _block(lines, i, lines[i][0])
        else:
            out[key.strip()] = None
    return out, i


def _list(lines, i, indent):
    out = []
    while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("-"):
        item = lines[i][1][1:].strip()
        if ":" in item and item[:1] not in "\"'":
            # "- key: value" starts a mapping whose keys sit two columns further in.
            sub = [(indent + 2, item)]
            j = i + 1
            while j < len(lines) and lines[j][0] > indent:
                sub.append(lines[j])
                j += 1
            value, used = _mapping(sub, 0, indent + 2)
            if used != len(sub):
                raise ValueError("unexpected indentation at: " + sub[used][1])
            out.append(value)
            i = j
        else:
            out.append(_scalar(item))
            i += 1
    return out, i

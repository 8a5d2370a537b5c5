"""Expected output of AUTOMATIC1111's parse_generation_parameters for our infotext samples.

The webui itself cannot be imported here (it needs gradio, torch and a running install), so this
restates modules/infotext_utils.py parse_generation_parameters, restore_old_hires_fix_params and
modules/infotext_versions.py backcompat with the webui's default options (no styles found,
use_old_hires_fix_width_height off, auto_backcompat on, nothing skipped). What it pins down is the
Python behaviour the TypeScript port must match: the `re` module's Unicode \\s and \\w, json.loads
unquoting, str.strip, int() and packaging's PEP 440 ordering.

Run: python3 scripts/reference/a1111-infotext.py  (needs the `packaging` module)
Writes tests/node/gallery/metadata/samples/a1111-expected.json
"""
import json
import math
import re
from pathlib import Path

from packaging import version

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests/node/gallery/metadata/samples/a1111"
OUT = ROOT / "tests/node/gallery/metadata/samples/a1111-expected.json"

PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
IMAGESIZE = re.compile(r"^(\d+)x(\d+)$")


def unquote(text):
    if not text or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def first_pass_dimensions(width, height):
    scale = math.sqrt(512 * 512 / (width * height))
    return math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64


def restore_old_hires(res):
    fw, fh = res.get("First pass size-1"), res.get("First pass size-2")
    if fw is None or fh is None:
        return
    fw, fh = int(fw), int(fh)
    width, height = int(res.get("Size-1", 512)), int(res.get("Size-2", 512))
    if fw == 0 or fh == 0:
        fw, fh = first_pass_dimensions(width, height)
    res["Size-1"], res["Size-2"] = fw, fh
    res["Hires resize-1"], res["Hires resize-2"] = width, height


def webui_version(text):
    if text is None:
        return None
    m = re.match(r"([^-]+-[^-]+)-.*", text)
    if m:
        text = m.group(1)
    try:
        return version.parse(text)
    except Exception:
        return None


def backcompat(d):
    ver = webui_version(d.get("Version"))
    if ver is None:
        return
    if ver < version.parse("1.6.0") and "[" in d.get("Prompt", ""):
        d["Old prompt editing timelines"] = True
    if ver < version.parse("1.6.0") and d.get("Sampler", "") in ("DDIM", "PLMS"):
        d["Pad conds v0"] = True
    if ver < version.parse("v1.7.0-225"):
        d["Downcast alphas_cumprod"] = True
    if ver < version.parse("1.8.0") and d.get("Refiner"):
        d["Refiner switch by sampling steps"] = True


def parse(x):
    res = {}
    prompt, negative = "", ""
    in_negative = False
    *lines, last = x.strip().split("\n")
    if len(PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[16:].strip()
        if in_negative:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    res["Prompt"] = prompt
    res["Negative prompt"] = negative
    for k, v in PARAM.findall(last):
        try:
            if v[0] == '"' and v[-1] == '"':
                v = unquote(v)
            m = IMAGESIZE.match(v)
            if m is not None:
                res[f"{k}-1"], res[f"{k}-2"] = m.group(1), m.group(2)
            else:
                res[k] = v
        except Exception:
            pass
    res.setdefault("Clip skip", "1")
    if res.get("Hypernet") is not None:
        res["Prompt"] += f"<hypernet:{res['Hypernet']}:{res.get('Hypernet strength', '1.0')}>"
    if "Hires resize-1" not in res:
        res["Hires resize-1"], res["Hires resize-2"] = 0, 0
    for key, value in [
        ("Hires sampler", "Use same sampler"),
        ("Hires checkpoint", "Use same checkpoint"),
        ("Hires prompt", ""),
        ("Hires negative prompt", ""),
        ("Mask mode", "Inpaint masked"),
        ("Masked content", "original"),
        ("Inpaint area", "Whole picture"),
        ("Masked area padding", 32),
    ]:
        res.setdefault(key, value)
    restore_old_hires(res)
    for key, value in [
        ("RNG", "GPU"),
        ("Schedule type", "Automatic"),
        ("Schedule max sigma", 0),
        ("Schedule min sigma", 0),
        ("Schedule rho", 0),
        ("VAE Encoder", "Full"),
        ("VAE Decoder", "Full"),
        ("FP8 weight", "Disable"),
    ]:
        res.setdefault(key, value)
    if "Cache FP16 weight for LoRA" not in res and res["FP8 weight"] != "Disable":
        res["Cache FP16 weight for LoRA"] = False
    backcompat(res)
    return res


def main():
    cases = {p.name: parse(p.read_text(encoding="utf8")) for p in sorted(SAMPLES.glob("*.txt"))}
    OUT.write_text(json.dumps(cases, ensure_ascii=False, indent=2) + "\n", encoding="utf8")
    print(json.dumps({"wrote": str(OUT.relative_to(ROOT)), "cases": len(cases)}))


if __name__ == "__main__":
    main()

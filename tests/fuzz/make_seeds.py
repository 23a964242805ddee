#!/usr/bin/env python3
"""Writes the committed seed corpora of the libFuzzer targets (tests/fuzz/<target>/) and their dictionaries.
Everything here is synthetic (written for lmc); rerun after changing it: python3 tests/fuzz/make_seeds.py"""
import gzip, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def out(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

# ---- safetensors ----
def st(tensors, meta=None, pad=True):
    hdr, blob = {}, b''
    if meta is not None:
        hdr['__metadata__'] = meta
    for name, dtype, shape, raw in tensors:
        hdr[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [len(blob), len(blob) + len(raw)]}
        blob += raw
    h = json.dumps(hdr, separators=(',', ':')).encode()
    if pad:
        h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + blob

f32 = lambda *v: struct.pack('<%df' % len(v), *v)
out('safetensors', 'f32_two', st([('a', 'F32', [2, 2], f32(1, 2, 3, 4)), ('b', 'F32', [3], f32(5, 6, 7))]))
out('safetensors', 'meta_alias', st([('lm_head.weight', 'F32', [1, 2], f32(1, 2))],
                                    {'format': 'pt', 'model.embed_tokens.weight': 'lm_head.weight'}))
out('safetensors', 'dtypes', st([('h', 'F16', [2], b'\x00\x3c\x00\xc0'), ('b', 'BF16', [2], b'\x80\x3f\x00\x40'),
                                 ('i', 'I64', [1], struct.pack('<q', 7)), ('u', 'U8', [3], b'abc'),
                                 ('bo', 'BOOL', [1], b'\x01'), ('e', 'F8_E4M3', [2], b'\x01\x02')]))
out('safetensors', 'empty_and_scalar', st([('z', 'F32', [0, 4], b''), ('s', 'F32', [], f32(3.5)),
                                           ('d4', 'F32', [1, 1, 1, 2], f32(1, 2))]))
out('safetensors', 'lmc_meta', st([('w', 'BF16', [2, 2], b'\x80\x3f' * 4)],
                                  {'lmc.format': '1', 'lmc.config': '{"architectures": ["LlamaForCausalLM"]}'}))
out('safetensors', 'no_pad', st([('a', 'F32', [1], f32(1))], pad=False))
out('safetensors', 'header_only', struct.pack('<Q', 2) + b'{}')
out('safetensors', 'index', json.dumps({'metadata': {'total_size': 40}, 'weight_map': {
    'a': 'model-00001-of-00002.safetensors', 'b': 'model-00001-of-00002.safetensors',
    'c': 'model-00002-of-00002.safetensors'}}))
out('safetensors', 'index_missing_shard', json.dumps({'weight_map': {'a': 'model-00003-of-00003.safetensors'}}))
out('safetensors', 'index_wrong_shard', json.dumps({'weight_map': {'a': 'model-00002-of-00002.safetensors',
                                                                   'c': 'model-00002-of-00002.safetensors'}}))

# ---- config.json (the fuzz target's weights: vocab 32, hidden 8, 2 heads x 4, 1 KV head, intermediate 16) ----
base = {'architectures': ['LlamaForCausalLM'], 'hidden_size': 8, 'intermediate_size': 16, 'num_attention_heads': 2,
        'num_key_value_heads': 1, 'num_hidden_layers': 1, 'vocab_size': 32, 'rms_norm_eps': 1e-5,
        'rope_theta': 10000.0, 'hidden_act': 'silu', 'tie_word_embeddings': False, 'max_position_embeddings': 64}
def cfg(name, **kw):
    c = dict(base)
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    out('config', name, json.dumps(c, indent=1))
cfg('llama')
cfg('llama_biases', attention_bias=True, mlp_bias=True)
cfg('llama_tied', tie_word_embeddings=True)
cfg('llama_head_dim', head_dim=4)
cfg('rope_linear', rope_scaling={'type': 'linear', 'factor': 2.0})
cfg('rope_dynamic', rope_scaling={'type': 'dynamic', 'factor': 2.0}, max_position_embeddings=2)
cfg('rope_llama3', rope_scaling={'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
                                 'high_freq_factor': 4.0, 'original_max_position_embeddings': 16})
cfg('rope_yarn', rope_scaling={'type': 'yarn', 'factor': 4.0, 'original_max_position_embeddings': 16,
                               'beta_fast': 32, 'beta_slow': 1, 'mscale': 1, 'mscale_all_dim': 0})
cfg('qwen2', architectures=['Qwen2ForCausalLM'], use_sliding_window=True, sliding_window=4)
cfg('mistral', architectures=['MistralForCausalLM'], sliding_window=2)
cfg('interleaved', lmc_rope_interleaved=True, pretraining_tp=1)
cfg('no_vocab', vocab_size=None)
out('config', 'gpt2', json.dumps({'architectures': ['GPT2LMHeadModel'], 'n_embd': 8, 'n_head': 2, 'n_layer': 1,
                                  'n_positions': 16, 'vocab_size': 32, 'activation_function': 'gelu_new'}))
out('config', 'neox', json.dumps({'architectures': ['GPTNeoXForCausalLM'], 'hidden_size': 8, 'num_attention_heads': 2,
                                  'num_hidden_layers': 1, 'intermediate_size': 16, 'vocab_size': 32, 'rotary_pct': 0.5,
                                  'use_parallel_residual': True, 'layer_norm_eps': 1e-5}))
out('config', 'falcon', json.dumps({'architectures': ['FalconForCausalLM'], 'hidden_size': 8, 'num_attention_heads': 2,
                                    'num_hidden_layers': 1, 'vocab_size': 32, 'new_decoder_architecture': True,
                                    'num_kv_heads': 1, 'parallel_attn': True, 'bias': False, 'alibi': False}))
out('config', 'mixtral', json.dumps(dict(base, architectures=['MixtralForCausalLM'], num_local_experts=2,
                                         num_experts_per_tok=1)))
out('config', 'qwen1', json.dumps({'architectures': ['QWenLMHeadModel'], 'hidden_size': 8, 'num_attention_heads': 2,
                                   'num_hidden_layers': 1, 'intermediate_size': 32, 'vocab_size': 32,
                                   'kv_channels': 4, 'seq_length': 16, 'use_dynamic_ntk': True, 'use_logn_attn': True}))
out('config', 'deepseek2', json.dumps(dict(base, architectures=['DeepseekV2ForCausalLM'], kv_lora_rank=4,
                                           qk_nope_head_dim=2, qk_rope_head_dim=2, v_head_dim=4, n_routed_experts=2,
                                           num_experts_per_tok=1, moe_intermediate_size=8, first_k_dense_replace=1)))
out('config', 'not_object', '[1, 2, 3]')

# ---- tokenizer.json (+ optional "\n==config==\n" tokenizer_config.json) ----
def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))
b2u = bytes_to_unicode()
vocab = {b2u[b]: i for i, b in enumerate(range(256))}
merges = []
for pair in ['Ġ t', 'h e', 'Ġt he', 'i n', 'Ġ a', 'e r', 'o n', 'Ġ w', 'r e', 'Ġ s']:
    a, b = pair.split(' ')
    merges.append(pair)
    vocab.setdefault(a + b, len(vocab))
bytelevel = {
    'version': '1.0', 'truncation': None, 'padding': None,
    'added_tokens': [{'id': len(vocab), 'content': '<|endoftext|>', 'single_word': False, 'lstrip': False,
                      'rstrip': False, 'normalized': False, 'special': True}],
    'normalizer': None,
    'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True},
    'post_processor': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False, 'use_regex': True},
    'decoder': {'type': 'ByteLevel'},
    'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
              'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'vocab': vocab, 'merges': merges}}
bytelevel['added_tokens'][0]['id'] = len(vocab)
out('tokenizer', 'bytelevel_bpe', json.dumps(bytelevel, ensure_ascii=False))
seq = dict(bytelevel)
seq['pre_tokenizer'] = {'type': 'Sequence', 'pretokenizers': [
    {'type': 'Split', 'pattern': {'Regex': "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     'behavior': 'Isolated', 'invert': False},
    {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': False, 'use_regex': False}]}
seq['normalizer'] = {'type': 'NFC'}
seq['post_processor'] = {'type': 'TemplateProcessing',
                         'single': [{'SpecialToken': {'id': '<|endoftext|>', 'type_id': 0}},
                                    {'Sequence': {'id': 'A', 'type_id': 0}}],
                         'pair': [], 'special_tokens': {'<|endoftext|>': {'id': '<|endoftext|>',
                                                                          'ids': [len(vocab)], 'tokens': ['<|endoftext|>']}}}
out('tokenizer', 'split_regex_template', json.dumps(seq, ensure_ascii=False))
# sentencepiece-style: Metaspace / Prepend+Replace normalizer, byte fallback tokens <0xXX>
sp_vocab = {'<unk>': 0, '<s>': 1, '</s>': 2}
for b in range(256):
    sp_vocab['<0x%02X>' % b] = len(sp_vocab)
for t in ['▁', 'a', 'b', 'c', 'e', 'h', 'l', 'o', 'r', 'w', 'd', '▁h', 'he', 'll', '▁he', 'llo', '▁hello', '▁w',
          'or', '▁wor', 'ld', '▁world']:
    sp_vocab.setdefault(t, len(sp_vocab))
sp = {'version': '1.0', 'added_tokens': [
        {'id': 0, 'content': '<unk>', 'special': True, 'normalized': False, 'lstrip': False, 'rstrip': False, 'single_word': False},
        {'id': 1, 'content': '<s>', 'special': True, 'normalized': False, 'lstrip': False, 'rstrip': False, 'single_word': False},
        {'id': 2, 'content': '</s>', 'special': True, 'normalized': False, 'lstrip': False, 'rstrip': False, 'single_word': False}],
      'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '▁'},
                                                         {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '▁'}]},
      'pre_tokenizer': None,
      'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                                                                  {'Sequence': {'id': 'A', 'type_id': 0}}],
                         'pair': [], 'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}},
      'decoder': None,
      'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
                'vocab': sp_vocab, 'merges': ['▁ h', 'h e', 'l l', '▁h e', 'll o', '▁he llo', '▁ w', 'o r', '▁w or',
                                              'l d', '▁wor ld']}}
out('tokenizer', 'sentencepiece_bpe', json.dumps(sp, ensure_ascii=False))
out('tokenizer', 'sentencepiece_llama_config', json.dumps(sp, ensure_ascii=False) + '\n==config==\n' +
    json.dumps({'tokenizer_class': 'LlamaTokenizerFast', 'add_bos_token': True, 'add_eos_token': True,
                'bos_token': '<s>', 'eos_token': '</s>'}))
meta = dict(sp)
meta['normalizer'] = None
meta['pre_tokenizer'] = {'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'first', 'split': False}
out('tokenizer', 'metaspace', json.dumps(meta, ensure_ascii=False))
misc = dict(bytelevel)
misc['normalizer'] = {'type': 'Sequence', 'normalizers': [{'type': 'NFKC'}, {'type': 'Lowercase'},
                                                          {'type': 'Strip', 'strip_left': True, 'strip_right': True},
                                                          {'type': 'StripAccents'}]}
misc['pre_tokenizer'] = {'type': 'Sequence', 'pretokenizers': [{'type': 'Digits', 'individual_digits': True},
                                                               {'type': 'Punctuation', 'behavior': 'Contiguous'},
                                                               {'type': 'WhitespaceSplit'},
                                                               {'type': 'ByteLevel', 'add_prefix_space': True, 'use_regex': False}]}
misc['post_processor'] = {'type': 'RobertaProcessing', 'sep': ['<|endoftext|>', len(vocab)],
                          'cls': ['<|endoftext|>', len(vocab)], 'trim_offsets': True, 'add_prefix_space': True}
out('tokenizer', 'normalizers_digits_roberta', json.dumps(misc, ensure_ascii=False))
out('tokenizer', 'not_object', '"BPE"')

# ---- JSONL ----
out('jsonl', 'plain', '{"content": "hello world", "subset": "cc", "meta": {"a": [1, 2.5e3, null, true]}}\n'
                      '{"content": "second line"}\n')
out('jsonl', 'escapes', '{"content": "tab\\there \\"q\\" \\\\ \\/ \\b\\f\\n\\r \\u00e9 \\u20ac \\ud83d\\ude00"}\n')
out('jsonl', 'lone_surrogate', '{"content": "bad \\ud83d here"}\n{"content": "\\ude00"}\n')
out('jsonl', 'bom_crlf_blank', '\ufeff{"content": "bom"}\r\n\r\n   \n{"content": ""}\r\n{"content": "end"}')
out('jsonl', 'schema', '{"meta": {}}\n{"content": null}\n{"content": 3}\n[1]\n{"content": "x", "content": "dup"}\n'
                       '{"content": "trunc\n')
out('jsonl', 'raw_unicode', '{"content": "日本語 \u2028 \u0085 emoji 👨‍👩‍👧"}\n')
out('jsonl', 'invalid_utf8', b'{"content": "ok"}\n{"content": "\xff\xfe bad \xc0\xaf"}\n')
out('jsonl', 'nested', '{"content": "n", "meta": ' + '[' * 40 + ']' * 40 + '}\n')
out('jsonl', 'numbers', '{"x": -0.5e-7, "y": 0, "z": 1E+2, "content": "num"}\n')
out('jsonl', 'gzip', gzip.compress(b'{"content": "compressed"}\n{"content": "two"}\n', mtime=0))

# ---- dictionaries ----
def dict_file(name, words):
    with open(os.path.join(HERE, name + '.dict'), 'w') as f:
        for w in words:
            f.write('"%s"\n' % ''.join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else '\\x%02x' % b
                                       for b in w.encode('utf-8')))
dict_file('safetensors', ['"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '"F32"', '"BF16"', '"F16"',
                          '"F64"', '"I64"', '"U8"', '"BOOL"', '"F8_E4M3"', '"weight_map"',
                          '"model-00001-of-00002.safetensors"', '"model-00002-of-00002.safetensors"',
                          '"lmc.config"', '"lmc.tokenizer"', '[0,0]', '9007199254740993', '-1', '1e308'])
config_keys = ("activation activation_function alibi apply_residual_connection_post_layernorm architectures "
               "attention_bias attention_factor beta_fast beta_slow bias factor ffn_hidden_size first_k_dense_replace "
               "head_dim hidden_act hidden_size high_freq_factor intermediate_size kv_channels kv_lora_rank "
               "layer_norm_eps layer_norm_epsilon lmc_rope_interleaved low_freq_factor max_position_embeddings mlp_bias "
               "moe_intermediate_size moe_layer_freq mscale mscale_all_dim multi_query n_embd n_group n_head n_inner "
               "n_layer n_positions new_decoder_architecture no_bias norm_topk_prob num_attention_heads "
               "num_experts_per_tok num_hidden_layers num_key_value_heads num_local_experts "
               "original_max_position_embeddings parallel_attn partial_rotary_factor pretraining_tp qk_nope_head_dim "
               "qk_rope_head_dim rms_norm_eps rope_scaling rope_theta rope_type rotary_emb_base rotary_pct "
               "routed_scaling_factor scoring_func seq_length sliding_window tie_word_embeddings topk_group "
               "topk_method type use_dynamic_ntk use_logn_attn use_parallel_residual use_sliding_window v_head_dim "
               "vocab_size num_kv_heads n_routed_experts n_shared_experts").split()
dict_file('config', ['"%s"' % k for k in config_keys] +
          ['"LlamaForCausalLM"', '"MistralForCausalLM"', '"Qwen2ForCausalLM"', '"MixtralForCausalLM"',
           '"DeepseekV2ForCausalLM"', '"FalconForCausalLM"', '"GPTNeoXForCausalLM"', '"GPT2LMHeadModel"',
           '"QWenLMHeadModel"', '"linear"', '"dynamic"', '"llama3"', '"yarn"', '"silu"', '"gelu"', '"gelu_new"',
           'true', 'false', 'null', '0', '-1', '1e9', '0.5', '1e-300', '4294967296'])
tok_words = ("BPE BertProcessing ByteLevel CharDelimiterSplit CodeLlamaTokenizer Contiguous Digits GemmaTokenizer "
             "Isolated LlamaTokenizer LlamaTokenizerFast Lowercase MergedWithNext MergedWithPrevious Metaspace NFC NFD "
             "NFKC NFKD Prepend Punctuation Regex Removed Replace RobertaProcessing Sequence SpecialToken Split String "
             "Strip StripAccents TemplateProcessing Whitespace WhitespaceSplit add_bos_token add_eos_token "
             "add_prefix_space added_tokens always behavior bos_token byte_fallback cls content "
             "continuing_subword_prefix delimiter dropout end_of_word_suffix eos_token first fuse_unk id ids "
             "ignore_merges individual_digits invert lstrip merges model never normalized normalizer normalizers "
             "pattern post_processor pre_tokenizer prepend prepend_scheme pretokenizers processors replacement "
             "rstrip sep single single_word special special_tokens split strip_left strip_right tokenizer "
             "tokenizer_class type unk_token use_regex vocab").split()
dict_file('tokenizer', ['"%s"' % w for w in tok_words] + ['\n==config==\n', '"\u2581"', '"<0x0A>"', '"\u0120"',
                                                          '"(?i:', '\\\\p{L}', '\\\\s+', 'true', 'false', 'null'])
dict_file('jsonl', ['"content"', '"meta"', '"subset"', '\\u', '\\ud83d', '\\ude00', '\\u0000', 'null', 'true',
                    'false', '\ufeff', '\r\n', '\u2028', '{"content": "', '"}\n'])

# ---- checkpoint files for fuzz_checkpoint's fixed fingerprint ----
import zlib
def ck_header():
    fields = [('lmc_version', 'fuzz'), ('lmc_build', 'b' * 64), ('blas', 'OpenBLAS test / Haswell'),
              ('cpu', 'avx2 fma'), ('model_sha256', 'a' * 64), ('tokenizer_sha256', 'c' * 64), ('compute', 'f32'),
              ('data_sha256', 'd' * 64), ('file_num', '-1'), ('skip_bad', '0'), ('block_size', '8'),
              ('stride', '4'), ('docs', '4'), ('tokens', '69'), ('windows', '16'), ('tokens_sha256', 'e' * 64),
              ('model_path', 'm'), ('data_path', 'd.jsonl')]
    h = 'lmc-checkpoint 1\n' + ''.join('%s %s\n' % kv for kv in fields)
    return h + 'end c%08x\n' % zlib.crc32(h.encode())
def ck_record(k, nll, parts):
    hx = lambda x: struct.pack('>d', x).hex()
    body = 'w %d %s %d' % (k, hx(nll), len(parts)) + ''.join(' %d %s' % (d, hx(v)) for d, v in parts)
    return body + ' c%08x\n' % zlib.crc32(body.encode())
H = ck_header()
out('checkpoint', 'header_only', H)
out('checkpoint', 'three_records', H + ck_record(0, 12.5, [(0, 10.0), (1, 2.5)]) + ck_record(1, 3.25, [(1, 3.25)]) +
    ck_record(2, 1e-300, [(2, 5e-301), (3, 5e-301)]))
out('checkpoint', 'torn_last', H + ck_record(0, 1.5, [(0, 1.5)]) + ck_record(1, 2.5, [(1, 2.5)])[:20])
out('checkpoint', 'out_of_order', H + ck_record(5, 1.0, [(2, 1.0)]) + ck_record(3, 2.0, [(0, 1.0), (3, 1.0)]))
out('checkpoint', 'duplicate', H + ck_record(4, 1.0, [(2, 1.0)]) + ck_record(4, 1.0, [(2, 1.0)]))
out('checkpoint', 'torn_header', H[:50])
out('checkpoint', 'other_fingerprint', H.replace('stride 4', 'stride 5'))
dict_file('checkpoint', ['w ', ' c', 'lmc-checkpoint 1\n', 'end c', '0000000000000000', '7ff0000000000000',
                         '7ff8000000000000', ' 0 ', ' 15 ', ' 16 ', '\n'])

# ---- gguf (GGUF v2/v3: header, typed metadata, tensor infos, aligned data) ----
def g_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack('<Q', len(b)) + b
def g_kv(key, vtype, payload):
    return g_str(key) + struct.pack('<I', vtype) + payload
def g_arr(etype, items):
    return struct.pack('<IQ', etype, len(items)) + b''.join(items)
def gguf(kvs, tensors, version=3, align=32):
    """tensors: (name, ne list, ggml type, raw bytes); offsets are assigned in order, aligned"""
    infos, blob = b'', b''
    for name, ne, gtype, raw in tensors:
        blob += b'\0' * (-len(blob) % align)
        infos += g_str(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne) + \
                 struct.pack('<IQ', gtype, len(blob))
        blob += raw
    head = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)) + b''.join(kvs) + infos
    return head + b'\0' * (-len(head) % align) + blob
u32 = lambda v: struct.pack('<I', v)
q8 = lambda d, qs: struct.pack('<e', d) + bytes(q & 0xff for q in qs)
out('gguf', 'f32_meta', gguf([g_kv('general.architecture', 8, g_str('llama')), g_kv('llama.block_count', 4, u32(2)),
                              g_kv('llama.rope.freq_base', 6, struct.pack('<f', 10000.0)),
                              g_kv('tokenizer.ggml.tokens', 9, g_arr(8, [g_str('<s>'), g_str('a'), g_str('\u2581b')])),
                              g_kv('tokenizer.ggml.scores', 9, g_arr(6, [struct.pack('<f', x) for x in (0, -1, -2)])),
                              g_kv('tokenizer.ggml.add_bos_token', 7, b'\1')],
                             [('token_embd.weight', [4, 3], 0, f32(*range(12))), ('output_norm.weight', [4], 0, f32(1, 1, 1, 1))]))
out('gguf', 'v2_align64', gguf([g_kv('general.alignment', 4, u32(64)), g_kv('x.u64', 10, struct.pack('<Q', 2**64 - 1)),
                                g_kv('x.i64', 11, struct.pack('<q', -5)), g_kv('x.f64', 12, struct.pack('<d', 0.5)),
                                g_kv('x.empty', 9, g_arr(5, []))],
                               [('a', [2], 1, b'\x00\x3c\x00\xc0'), ('b', [2], 30, b'\x80\x3f\x00\x40'), ('s', [], 0, f32(3))],
                               version=2, align=64))
out('gguf', 'quants', gguf([g_kv('general.architecture', 8, g_str('llama'))],
                           [('q8', [32, 2], 8, q8(0.5, range(-16, 16)) + q8(-2.0, range(32))),
                            ('q4', [32], 2, struct.pack('<e', 1.0) + bytes(range(16))),
                            ('q4k', [256], 12, bytes(range(144))), ('q6k', [256], 14, bytes(range(208)) + struct.pack('<e', 0.25)),
                            ('q41', [32], 3, bytes(20)), ('z', [0, 4], 8, b'')]))
out('gguf', 'no_tensors', gguf([g_kv('k', 0, b'\7'), g_kv('j', 1, b'\xf9'), g_kv('h', 2, b'\1\2'), g_kv('g', 3, b'\1\x80'),
                                g_kv('f', 5, struct.pack('<i', -3))], []))
with open(os.path.join(HERE, 'gguf.dict'), 'w') as f:
    for w in [b'GGUF', b'\x02\x00\x00\x00', b'\x03\x00\x00\x00', b'\x08\x00\x00\x00', b'\x09\x00\x00\x00',
              b'\x0c\x00\x00\x00', b'\x0e\x00\x00\x00', b'\x1e\x00\x00\x00', b'\x04\x00\x00\x00',
              b'\xff\xff\xff\xff\xff\xff\xff\xff', b'\x00\x00\x00\x00\x00\x00\x00\x80',
              b'\x00\x00\x00\x00\x01\x00\x00\x00', b'\x20\x00\x00\x00\x00\x00\x00\x00',
              b'general.alignment', b'general.architecture', b'tokenizer.ggml.tokens']:
        f.write('"%s"\n' % ''.join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else '\\x%02x' % b for b in w))

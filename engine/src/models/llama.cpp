// The Llama-family forward pass, written to read like the architecture: one loop over layers with the
// stages in order. Every op goes through the Backend; the arithmetic of each op (and why it matches
// llama.cpp) is documented next to its kernel in kernels/cpu/.
#include "models/llama.h"

#include <algorithm>
#include <cmath>

#include "model/model_weights.h"

namespace peregrine {

void ForwardScratch::reserve(const ModelInfo& info, int64_t n_rows) {
    const auto grow = [](auto& buf, int64_t n) {
        if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
    };
    grow(x, n_rows * info.n_embd);
    grow(xb, n_rows * info.n_embd);
    grow(xb2, n_rows * info.n_embd);
    grow(q, n_rows * info.n_embd_q());
    grow(k, n_rows * info.n_embd_kv());
    grow(v, n_rows * info.n_embd_kv());
    grow(att, n_rows * info.n_embd_q());
    grow(hb, n_rows * info.n_ff);
    grow(hb2, n_rows * info.n_ff);
    for (auto* v : {&tokens, &pos, &seq, &logit_rows}) v->reserve(static_cast<size_t>(n_rows));
}

void llama_forward(const Model& model, backend::Backend& be, KvCache& cache, std::span<const BatchRow> rows,
                   std::span<const RowShape> /*shapes*/, ForwardScratch& s, float* logits,
                   const backend::KvTree* tree) {
    const ModelInfo& hp = model.info();
    const ModelWeights& w = model.weights();
    const int64_t n = static_cast<int64_t>(rows.size());
    const int64_t n_embd = hp.n_embd;
    const int64_t n_embd_q = hp.n_embd_q();
    const int64_t n_embd_kv = hp.n_embd_kv();
    const float attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));

    s.reserve(hp, n);
    s.tokens.clear();
    s.pos.clear();
    s.seq.clear();
    s.logit_rows.clear();
    for (int64_t r = 0; r < n; ++r) {
        s.tokens.push_back(rows[r].token);
        s.pos.push_back(rows[r].pos);
        s.seq.push_back(rows[r].seq_id);
        if (rows[r].want_logits) s.logit_rows.push_back(static_cast<int32_t>(r));
    }
    // Tree batches: RoPE uses each row's position, the cache its slot and the tree's attention mask.
    const backend::KvRows kv_rows = tree ? tree->rows(s.seq) : backend::KvRows{s.seq, s.pos, {}, {}, {}};

    kernels::cpu::RopeConfig rope;
    rope.n_rot = hp.n_rot;
    rope.freq_base = hp.rope_freq_base;
    rope.freq_scale = hp.rope_freq_scale;
    rope.neox = hp.rope_type == RopeType::NeoX;
    rope.freq_factors = w.rope_freqs.present() ? w.rope_freqs.f32() : nullptr;

    float* x = s.x.data();        // [n][n_embd]
    float* xb2 = s.xb2.data();    // [n][n_embd]
    float* q = s.q.data();        // [n][n_head][head_dim]
    float* k = s.k.data();        // [n][n_head_kv][head_dim]
    float* v = s.v.data();        // [n][n_head_kv][head_dim]
    float* att = s.att.data();    // [n][n_head][head_dim]
    float* hb = s.hb.data();      // [n][n_ff]
    float* hb2 = s.hb2.data();    // [n][n_ff]

    // Rows whose logits are wanted; like llama.cpp, the last layer's FFN and the output run only on them.
    const int64_t n_out = static_cast<int64_t>(s.logit_rows.size());
    const auto keep_output_rows = [&](float* buf, int64_t width) {  // rows logit_rows[i] -> i, in place
        for (int64_t i = 0; i < n_out; ++i) {
            const int64_t from = s.logit_rows[static_cast<size_t>(i)];
            if (from != i) std::copy_n(buf + from * width, width, buf + i * width);
        }
    };

    // embedding: x = token_embd[token]
    be.get_rows(w.token_embd, s.tokens, x);

    int64_t n_cur = n;  // rows still flowing through the layers
    for (int il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& l = w.layers[static_cast<size_t>(il)];
        const bool last = il + 1 == hp.n_layer;

        // norm + qkv: xb = rms_norm(x) * attn_norm; q = xb·Wqᵀ (+ bq), k = xb·Wkᵀ (+ bk), v = xb·Wvᵀ (+ bv)
        // (one op: the backend normalises each row as it converts it for the matmul)
        const backend::MatmulJob qkv[] = {{&l.wq, q}, {&l.wk, k}, {&l.wv, v}};
        be.rms_norm_matmul(qkv, x, l.attn_norm, hp.norm_eps, n);
        if (l.bq.present()) be.add_bias(q, l.bq, n, n_embd_q);
        if (l.bk.present()) be.add_bias(k, l.bk, n, n_embd_kv);
        if (l.bv.present()) be.add_bias(v, l.bv, n, n_embd_kv);

        // rope: rotate q and k by each row's position; attn: store this batch's k, v in the cache (one op),
        // then each row attends to positions 0..pos of its sequence; xb2 = att·Woᵀ (+ bo)
        be.rope_store_kv(q, hp.n_head, k, v, hp.n_head_kv, hp.head_dim, s.pos, rope, cache, il, kv_rows);
        if (last && n_out == 0) break;  // the cache is complete and nothing reads this layer's output
        be.attention(cache, il, kv_rows, q, hp.n_head, hp.n_head_kv, hp.head_dim, attn_scale, att);
        const backend::MatmulJob out_proj[] = {{&l.wo, xb2}};
        be.matmul(out_proj, att, n);
        if (l.bo.present()) be.add_bias(xb2, l.bo, n, n_embd);
        if (last && n_out < n) {
            keep_output_rows(xb2, n_embd);
            keep_output_rows(x, n_embd);
            n_cur = n_out;
        }

        // residual: x = x + attention output
        be.add(xb2, x, x, n_cur * n_embd);

        // norm + ffn: xb = rms_norm(x) * ffn_norm; xb2 = (silu(xb·Wgateᵀ) * xb·Wupᵀ)·Wdownᵀ (norm, gate/up
        // and SwiGLU in one op)
        be.rms_norm_matmul_swiglu({&l.ffn_gate, hb}, {&l.ffn_up, hb2}, x, l.ffn_norm, hp.norm_eps, n_cur);
        const backend::MatmulJob down[] = {{&l.ffn_down, xb2}};
        be.matmul(down, hb, n_cur);

        // residual: x = x + ffn output
        be.add(xb2, x, x, n_cur * n_embd);
    }
    if (n_out == 0) return;

    // output: final norm and the vocabulary projection of the n_out rows left: logits [n_out][n_vocab]
    const backend::MatmulJob vocab[] = {{&w.output, logits}};
    be.rms_norm_matmul(vocab, x, w.output_norm, hp.norm_eps, n_out);
}

}  // namespace peregrine

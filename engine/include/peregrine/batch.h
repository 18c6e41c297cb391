// One forward pass = a set of rows. A prompt, many sequences' next tokens and a speculative K-token
// verification are all just rows; each row names its sequence, its position in it and its token.
//
// Tree rows (speculative tree drafts): a row may name an earlier row of its sequence as its parent
// instead of continuing the sequence. It then sits at its parent's position + 1 (siblings share a
// position) and attends to the sequence's cached positions, its ancestors and itself only. The rows of a
// sequence take KV slots len, len + 1, ... in row order whatever their positions; after the pass the
// caller keeps one path with Context::keep_tree_path (or drops them all with truncate_sequence).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace peregrine {

struct BatchRow {
    int32_t seq_id;
    int32_t pos;
    int32_t token;
    bool want_logits;
};

struct Batch {
    std::vector<BatchRow> rows;
    // Empty: every row continues its sequence. Otherwise one entry per row: kNoParent (the row continues
    // its sequence: pos == the sequence's length so far) or the index of an earlier row of the same
    // sequence (pos == that row's pos + 1).
    std::vector<int32_t> parent;
    static constexpr int32_t kNoParent = -1;

    void add(int32_t seq_id, int32_t pos, int32_t token, bool want_logits);
    // A tree row: follows row `parent_row` of this batch (kNoParent: continues the sequence).
    void add_child(int32_t seq_id, int32_t pos, int32_t token, bool want_logits, int32_t parent_row);
    void clear() {
        rows.clear();
        parent.clear();
    }
    bool empty() const { return rows.empty(); }
    size_t size() const { return rows.size(); }
    size_t n_logit_rows() const;
    bool has_tree() const { return !parent.empty(); }
};

}  // namespace peregrine

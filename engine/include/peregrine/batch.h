// One forward pass = a set of rows. A prompt, many sequences' next tokens and a speculative K-token
// verification are all just rows; each row names its sequence, its position in it and its token.
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

    void add(int32_t seq_id, int32_t pos, int32_t token, bool want_logits);
    void clear() { rows.clear(); }
    bool empty() const { return rows.empty(); }
    size_t size() const { return rows.size(); }
    size_t n_logit_rows() const;
};

}  // namespace peregrine

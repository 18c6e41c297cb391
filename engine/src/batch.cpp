#include "peregrine/batch.h"

namespace peregrine {

void Batch::add(int32_t seq_id, int32_t pos, int32_t token, bool want_logits) {
    rows.push_back({seq_id, pos, token, want_logits});
    if (!parent.empty()) parent.push_back(kNoParent);
}

void Batch::add_child(int32_t seq_id, int32_t pos, int32_t token, bool want_logits, int32_t parent_row) {
    if (parent.empty()) parent.assign(rows.size(), kNoParent);
    rows.push_back({seq_id, pos, token, want_logits});
    parent.push_back(parent_row);
}

size_t Batch::n_logit_rows() const {
    size_t n = 0;
    for (const auto& r : rows) n += r.want_logits ? 1 : 0;
    return n;
}

}  // namespace peregrine

#include "peregrine/batch.h"

namespace peregrine {

void Batch::add(int32_t seq_id, int32_t pos, int32_t token, bool want_logits) {
    rows.push_back({seq_id, pos, token, want_logits});
}

size_t Batch::n_logit_rows() const {
    size_t n = 0;
    for (const auto& r : rows) n += r.want_logits ? 1 : 0;
    return n;
}

}  // namespace peregrine

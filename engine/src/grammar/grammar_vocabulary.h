// The vocabulary's token texts in a prefix tree (one node per distinct prefix), so the grammar mask can
// check a shared prefix once for every token that starts with it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "peregrine/grammar.h"

namespace peregrine {

struct GrammarVocabulary::Impl {
    struct Node {
        int32_t first_child = 0;  // children are nodes[first_child, first_child + n_children)
        int32_t n_children = 0;
        int32_t tokens_begin = 0;  // tokens whose text ends here: ids[tokens_begin, tokens_end)
        int32_t tokens_end = 0;
        uint8_t byte = 0;          // the edge from the parent
    };

    std::vector<std::string> pieces;  // (n_tokens) "" for tokens the grammar never allows
    std::vector<uint8_t> eog;         // (n_tokens) 1: end-of-generation token
    std::vector<int32_t> eog_ids;
    std::vector<Node> nodes;          // nodes[0] is the root (the empty text)
    std::vector<int32_t> ids;         // token ids grouped by node; within a node the preferred one first
    size_t max_piece_bytes = 0;
};

}  // namespace peregrine

// Turns a conversation into prompt tokens that fit the context: the model's chat template renders it,
// and when it is too long the oldest turns (never the system prompt, never the newest message) are left
// out until the prompt leaves room for the reply, as LM Studio and Jan do by default.
#pragma once

#include <QList>

#include <cstdint>
#include <vector>

#include "bridge/engine_types.h"

namespace peregrine {
struct LoadedModel;
}

namespace peregrine::ui {

struct FittedPrompt {
    std::vector<int32_t> tokens;
    int droppedMessages = 0;
};

// Positions kept free for the reply: maxTokens when set (capped at half the context), else a quarter.
int replyReserve(int contextLength, int maxTokens);

// Throws InvalidRequestError when even the system prompt plus the newest message do not fit.
FittedPrompt fitConversation(const LoadedModel& model, const QList<ChatTurn>& messages, int contextLength,
                             int reserve);

}  // namespace peregrine::ui

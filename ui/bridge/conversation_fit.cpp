#include "bridge/conversation_fit.h"

#include <algorithm>

#include "peregrine/error.h"
#include "peregrine/loaded_model.h"

namespace peregrine::ui {
namespace {

std::vector<ChatMessage> toEngine(const QList<ChatTurn>& turns) {
    std::vector<ChatMessage> out;
    out.reserve(turns.size());
    for (const ChatTurn& turn : turns) out.push_back({turn.role.toStdString(), turn.content.toStdString()});
    return out;
}

}  // namespace

int replyReserve(int contextLength, int maxTokens) {
    if (maxTokens > 0) return std::min(maxTokens, contextLength / 2);
    return std::max(1, contextLength / 4);
}

FittedPrompt fitConversation(const LoadedModel& model, const QList<ChatTurn>& messages, int contextLength,
                             int reserve) {
    const int budget = contextLength - reserve;
    QList<ChatTurn> kept = messages;
    FittedPrompt fitted;
    while (true) {
        fitted.tokens = model.tokenize_chat(toEngine(kept), /*add_generation_prompt=*/true);
        if (static_cast<int>(fitted.tokens.size()) <= budget) return fitted;
        // Drop the oldest non-system turn, then any assistant turns that would now open the
        // conversation (most templates expect the first non-system turn to be the user's).
        const qsizetype first = kept.isEmpty() || kept.front().role != QLatin1String("system") ? 0 : 1;
        const qsizetype droppable = kept.size() - first - 1;  // the newest message always stays
        if (droppable <= 0) {
            throw InvalidRequestError("the message is " + std::to_string(fitted.tokens.size()) +
                                      " tokens long with the chat template, but the context holds " +
                                      std::to_string(contextLength) + " and " + std::to_string(reserve) +
                                      " are kept for the reply: shorten it or raise the context length");
        }
        kept.removeAt(first);
        ++fitted.droppedMessages;
        while (kept.size() - first > 1 && kept[first].role == QLatin1String("assistant")) {
            kept.removeAt(first);
            ++fitted.droppedMessages;
        }
    }
}

}  // namespace peregrine::ui

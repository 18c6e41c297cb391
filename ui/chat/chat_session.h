// The conversation being chatted in: ties the store (what is saved), the message model (what is shown)
// and the engine controller (what generates) together. It decides what a send, stop, regenerate or
// edit-and-resend means; widgets only call these and show the signals.
//
// Several conversations may generate at once (the engine batches them): each reply streams into its own
// conversation's row and is saved as it grows, also while the user looks at another conversation;
// switching back shows it with everything streamed so far. Send, stop and regenerate act on the
// conversation on screen only. Regenerate may ask for several alternatives, sampled in one batch; the
// reply then holds all of them and the chosen one is its content.
#pragma once

#include <QObject>

#include <functional>

#include <map>
#include <memory>

#include "bridge/engine_types.h"
#include "chat/message_list_model.h"

namespace peregrine::ui {

class ChatStore;
class EngineController;
class StreamingReplySaver;

class ChatSession : public QObject {
    Q_OBJECT

public:
    ChatSession(ChatStore& store, EngineController& engine, QObject* parent = nullptr);
    ~ChatSession() override;

    MessageListModel* messages() { return &model_; }
    int64_t conversationId() const { return conversationId_; }
    bool isGenerating() const { return replyIn(conversationId_) != nullptr; }  // in the conversation on screen
    int runningReplies() const { return static_cast<int>(active_.size()); }  // in every conversation
    int64_t streamingMessageId() const;
    // The engine request of the reply streaming into that conversation; 0 when none.
    quint64 replyRequestId(int64_t conversationId) const {
        const ActiveReply* reply = replyIn(conversationId);
        return reply ? reply->requestId : 0;
    }

    void setGenerationOptions(const GenerationOptions& options) { options_ = options; }
    const GenerationOptions& generationOptions() const { return options_; }

    void openConversation(int64_t id);  // 0 shows an empty, not yet created chat
    int64_t newConversation();          // creates and opens "New chat"
    void deleteConversation(int64_t id);
    QString systemPrompt() const;
    void setSystemPrompt(const QString& prompt);

    // Each returns false (and emits errorOccurred when it is worth telling) if it cannot run now.
    bool send(const QString& text);
    void stop();     // the reply of the conversation on screen
    void stopAll();  // every reply (closing)
    bool regenerate(int alternatives = 1);
    bool editAndResend(int64_t userMessageId, const QString& text);
    // Shows and saves alternative `index` of a reply that has several; false when there is no such one.
    bool chooseAlternative(int64_t messageId, int index);

signals:
    void conversationOpened(int64_t id);
    void conversationsChanged();  // created, renamed (first message), reordered, deleted
    void generatingChanged(bool generating);
    void replyStarted();
    void liveStats(const peregrine::ui::LiveStats& stats);
    void replyFinished(const peregrine::ui::GenerationOutcome& outcome);       // any conversation
    void shownReplyFinished(const peregrine::ui::GenerationOutcome& outcome);  // the one on screen
    void errorOccurred(const QString& message);

private:
    struct ActiveReply {
        quint64 requestId = 0;
        int64_t conversationId = 0;
        int64_t messageId = 0;
        std::unique_ptr<StreamingReplySaver> saver;
    };

    const ActiveReply* replyIn(int64_t conversationId) const;
    bool startReply(int alternatives = 1);
    QList<ChatTurn> turnsOf(int64_t conversationId);
    void onText(quint64 requestId, const QString& text, const LiveStats& stats);
    void onFinished(const GenerationOutcome& outcome);
    bool guardIdle();
    bool runStoreAction(const std::function<void()>& action);

    ChatStore& store_;
    EngineController& engine_;
    MessageListModel model_;
    GenerationOptions options_;
    int64_t conversationId_ = 0;
    std::map<quint64, ActiveReply> active_;  // by request id
};

}  // namespace peregrine::ui

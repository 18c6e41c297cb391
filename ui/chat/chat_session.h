// The conversation being chatted in: ties the store (what is saved), the message model (what is shown)
// and the engine controller (what generates) together. It decides what a send, stop, regenerate or
// edit-and-resend means; widgets only call these and show the signals.
//
// A reply keeps streaming into its own conversation's row even when the user switches to another one;
// switching back shows it with everything streamed so far.
#pragma once

#include <QObject>

#include <functional>

#include <memory>
#include <optional>

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
    bool isGenerating() const { return active_.has_value(); }
    int64_t streamingMessageId() const { return active_ ? active_->messageId : 0; }

    void setGenerationOptions(const GenerationOptions& options) { options_ = options; }
    const GenerationOptions& generationOptions() const { return options_; }

    void openConversation(int64_t id);  // 0 shows an empty, not yet created chat
    int64_t newConversation();          // creates and opens "New chat"
    void deleteConversation(int64_t id);
    QString systemPrompt() const;
    void setSystemPrompt(const QString& prompt);

    // Each returns false (and emits errorOccurred when it is worth telling) if it cannot run now.
    bool send(const QString& text);
    void stop();
    bool regenerate();
    bool editAndResend(int64_t userMessageId, const QString& text);

signals:
    void conversationOpened(int64_t id);
    void conversationsChanged();  // created, renamed (first message), reordered, deleted
    void generatingChanged(bool generating);
    void replyStarted();
    void liveStats(const peregrine::ui::LiveStats& stats);
    void replyFinished(const peregrine::ui::GenerationOutcome& outcome);
    void errorOccurred(const QString& message);

private:
    struct ActiveReply {
        quint64 requestId = 0;
        int64_t conversationId = 0;
        int64_t messageId = 0;
        std::unique_ptr<StreamingReplySaver> saver;
    };

    bool startReply();
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
    std::optional<ActiveReply> active_;
};

}  // namespace peregrine::ui

#include "chat/chat_session.h"

#include "bridge/engine_controller.h"
#include "logging/ui_log.h"
#include "store/chat_store.h"
#include "store/streaming_reply_saver.h"

namespace peregrine::ui {
namespace {

const QString kNewChatTitle = QStringLiteral("New chat");

// The sidebar title for a conversation: the first line of its first message, shortened.
QString titleFrom(const QString& text) {
    QString line = text.trimmed().section('\n', 0, 0).simplified();
    if (line.size() > 48) line = line.left(47) + QChar(0x2026);
    return line.isEmpty() ? kNewChatTitle : line;
}

}  // namespace

ChatSession::ChatSession(ChatStore& store, EngineController& engine, QObject* parent)
    : QObject(parent), store_(store), engine_(engine) {
    connect(&engine_, &EngineController::textArrived, this, &ChatSession::onText);
    connect(&engine_, &EngineController::generationFinished, this, &ChatSession::onFinished);
}

ChatSession::~ChatSession() {
    // The app is closing mid-reply: keep what streamed, as if the user had pressed stop.
    for (auto& [requestId, reply] : active_) {
        engine_.stop(requestId);
        MessageStats stats;
        stats.model = engine_.model().fileName;
        stats.stopReason = QStringLiteral("cancelled");
        reply.saver->finish(reply.saver->text(), MessageState::Stopped, stats);
    }
}

const ChatSession::ActiveReply* ChatSession::replyIn(int64_t conversationId) const {
    if (conversationId == 0) return nullptr;
    for (const auto& [requestId, reply] : active_) {
        if (reply.conversationId == conversationId) return &reply;
    }
    return nullptr;
}

int64_t ChatSession::streamingMessageId() const {
    const ActiveReply* reply = replyIn(conversationId_);
    return reply ? reply->messageId : 0;
}

bool ChatSession::runStoreAction(const std::function<void()>& action) {
    try {
        action();
        return true;
    } catch (const std::exception& error) {
        uiLogger("store")->error("{}", error.what());
        emit errorOccurred(tr("The chat history could not be updated: %1").arg(QString::fromUtf8(error.what())));
        return false;
    }
}

void ChatSession::openConversation(int64_t id) {
    QList<StoredMessage> messages;
    if (id != 0 && !runStoreAction([&] { messages = store_.messages().list(id); })) return;
    const bool wasGenerating = isGenerating();
    conversationId_ = id;
    // A reply still streaming into this conversation: the saved row may lag, the saver has it all.
    if (const ActiveReply* reply = replyIn(id)) {
        for (StoredMessage& message : messages) {
            if (message.id == reply->messageId) message.content = reply->saver->text();
        }
    }
    model_.setMessages(messages);
    emit conversationOpened(id);
    if (wasGenerating != isGenerating()) emit generatingChanged(isGenerating());
}

int64_t ChatSession::newConversation() {
    int64_t id = 0;
    if (!runStoreAction([&] { id = store_.conversations().create(kNewChatTitle); })) return 0;
    openConversation(id);
    emit conversationsChanged();
    return id;
}

void ChatSession::deleteConversation(int64_t id) {
    for (auto it = active_.begin(); it != active_.end(); ++it) {
        if (it->second.conversationId != id) continue;
        engine_.stop(it->first);
        const bool shown = id == conversationId_;
        active_.erase(it);  // its row goes with the conversation; nothing left to save
        if (shown) emit generatingChanged(false);
        break;
    }
    if (!runStoreAction([&] { store_.conversations().remove(id); })) return;
    if (conversationId_ == id) openConversation(0);
    emit conversationsChanged();
}

QString ChatSession::systemPrompt() const {
    if (conversationId_ == 0) return {};
    try {
        const auto conversation = store_.conversations().find(conversationId_);
        return conversation ? conversation->systemPrompt : QString();
    } catch (const std::exception& error) {
        uiLogger("store")->error("{}", error.what());
        return {};
    }
}

void ChatSession::setSystemPrompt(const QString& prompt) {
    if (conversationId_ == 0 && newConversation() == 0) return;
    runStoreAction([&] { store_.conversations().setSystemPrompt(conversationId_, prompt); });
}

bool ChatSession::guardIdle() {
    if (!isGenerating()) return true;
    emit errorOccurred(tr("A reply is still being written. Stop it first (Esc)."));
    return false;
}

bool ChatSession::send(const QString& text) {
    if (text.trimmed().isEmpty() || !guardIdle()) return false;
    if (conversationId_ == 0 && newConversation() == 0) return false;
    StoredMessage message;
    message.conversationId = conversationId_;
    message.role = MessageRole::User;
    message.content = text;
    const bool firstMessage = model_.rowCount() == 0;
    if (!runStoreAction([&] {
            message.id = store_.messages().append(conversationId_, MessageRole::User, text);
            const auto conversation = store_.conversations().find(conversationId_);
            if (firstMessage && conversation && conversation->title == kNewChatTitle) {
                store_.conversations().rename(conversationId_, titleFrom(text));
            }
        })) {
        return false;
    }
    model_.append(message);
    emit conversationsChanged();
    return startReply();
}

QList<ChatTurn> ChatSession::turnsOf(int64_t conversationId) {
    QList<ChatTurn> turns;
    const QString system = systemPrompt();
    if (!system.trimmed().isEmpty()) turns << ChatTurn{QStringLiteral("system"), system};
    for (const StoredMessage& message : store_.messages().list(conversationId)) {
        // Replies that failed before writing anything would only confuse the model.
        if (message.role == MessageRole::Assistant && message.content.isEmpty()) continue;
        turns << ChatTurn{roleName(message.role), message.content};
    }
    return turns;
}

bool ChatSession::startReply(int alternatives) {
    if (!engine_.hasModel()) {
        emit errorOccurred(engine_.isLoading() ? tr("The model is still loading.")
                                               : tr("No model is loaded. Choose one with Model ▸ Open."));
        return false;
    }
    QList<ChatTurn> turns;
    StoredMessage reply;
    reply.conversationId = conversationId_;
    reply.role = MessageRole::Assistant;
    reply.state = MessageState::Streaming;
    if (!runStoreAction([&] {
            turns = turnsOf(conversationId_);
            reply.id = store_.messages().append(conversationId_, MessageRole::Assistant, {}, MessageState::Streaming);
        })) {
        return false;
    }
    model_.append(reply);
    ActiveReply active;
    active.conversationId = conversationId_;
    active.messageId = reply.id;
    active.saver = std::make_unique<StreamingReplySaver>(store_.messages(), reply.id);
    connect(active.saver.get(), &StreamingReplySaver::saveFailed, this, [this](const QString& message) {
        emit errorOccurred(tr("The reply could not be saved: %1").arg(message));
    });
    active.requestId = engine_.generate(turns, options_, alternatives);
    const quint64 requestId = active.requestId;
    active_.emplace(requestId, std::move(active));
    emit generatingChanged(true);
    emit replyStarted();
    return true;
}

void ChatSession::stop() {
    for (const auto& [requestId, reply] : active_) {
        if (reply.conversationId == conversationId_) engine_.stop(requestId);
    }
}

void ChatSession::stopAll() {
    for (const auto& [requestId, reply] : active_) engine_.stop(requestId);
}

bool ChatSession::regenerate(int alternatives) {
    if (!guardIdle() || conversationId_ == 0) return false;
    const StoredMessage* last = model_.last();
    if (!last) return false;
    if (last->role == MessageRole::Assistant) {
        const int64_t id = last->id;
        if (!runStoreAction([&] { store_.messages().removeFrom(id); })) return false;
        model_.removeFrom(id);
    }
    if (!model_.last() || model_.last()->role != MessageRole::User) return false;
    return startReply(alternatives);
}

bool ChatSession::chooseAlternative(int64_t messageId, int index) {
    const StoredMessage* message = model_.find(messageId);
    if (!message || index < 0 || index >= message->alternatives.size() || replyIn(conversationId_)) return false;
    const QStringList alternatives = message->alternatives;
    if (!runStoreAction([&] { store_.messages().setAlternatives(messageId, alternatives, index); })) return false;
    model_.setContent(messageId, alternatives[index]);
    return true;
}

bool ChatSession::editAndResend(int64_t userMessageId, const QString& text) {
    if (!guardIdle() || text.trimmed().isEmpty()) return false;
    const int row = model_.rowOf(userMessageId);
    if (row < 0 || model_.at(row).role != MessageRole::User) return false;
    const int64_t next = row + 1 < model_.rowCount() ? model_.at(row + 1).id : 0;
    if (!runStoreAction([&] {
            store_.messages().setContent(userMessageId, text);
            if (next != 0) store_.messages().removeFrom(next);
        })) {
        return false;
    }
    model_.setContent(userMessageId, text);
    if (next != 0) model_.removeFrom(next);
    return startReply();
}

void ChatSession::onText(quint64 requestId, const QString& text, const LiveStats& stats) {
    const auto it = active_.find(requestId);
    if (it == active_.end()) return;
    ActiveReply& reply = it->second;
    reply.saver->append(text);
    if (reply.conversationId != conversationId_) return;
    model_.appendText(reply.messageId, text);
    emit liveStats(stats);
}

void ChatSession::onFinished(const GenerationOutcome& outcome) {
    const auto it = active_.find(outcome.requestId);
    if (it == active_.end()) return;
    ActiveReply done = std::move(it->second);
    active_.erase(it);
    const bool shown = done.conversationId == conversationId_;
    MessageState state = MessageState::Complete;
    if (!outcome.error.isEmpty()) state = MessageState::Failed;
    else if (outcome.cancelled) state = MessageState::Stopped;
    MessageStats stats = outcome.stats;
    stats.error = outcome.error;
    done.saver->finish(outcome.text, state, stats);
    if (outcome.alternatives.size() > 1) {
        runStoreAction([&] { store_.messages().setAlternatives(done.messageId, outcome.alternatives, 0); });
    }
    if (shown) {
        model_.finish(done.messageId, outcome.text, state, stats, outcome.alternatives);
        emit generatingChanged(false);
        emit shownReplyFinished(outcome);
    }
    emit replyFinished(outcome);
    emit conversationsChanged();
    if (!outcome.error.isEmpty()) emit errorOccurred(outcome.error);
}

}  // namespace peregrine::ui

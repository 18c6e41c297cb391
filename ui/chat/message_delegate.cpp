#include "chat/message_delegate.h"

#include <QAbstractItemView>
#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QClipboard>
#include <QHelpEvent>
#include <QLocale>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include "chat/message_list_model.h"

namespace peregrine::ui {
namespace {

constexpr int kMargin = 8;    // around each bubble
constexpr int kPadding = 10;  // inside each bubble
constexpr int kRadius = 8;
constexpr double kUserWidthShare = 0.8;

MessageRole roleOf(const QModelIndex& index) {
    return static_cast<MessageRole>(index.data(MessageListModel::MessageRoleRole).toInt());
}

MessageState stateOf(const QModelIndex& index) {
    return static_cast<MessageState>(index.data(MessageListModel::StateRole).toInt());
}

QString headerText(const QModelIndex& index) {
    const MessageRole role = roleOf(index);
    QString who = role == MessageRole::User ? QObject::tr("You")
                  : role == MessageRole::System ? QObject::tr("System")
                                                : QObject::tr("Assistant");
    switch (stateOf(index)) {
        case MessageState::Streaming: return who + QObject::tr(" · writing…");
        case MessageState::Stopped: return who + QObject::tr(" · stopped");
        case MessageState::Failed: return who + QObject::tr(" · failed");
        case MessageState::Interrupted: return who + QObject::tr(" · interrupted (the app closed)");
        case MessageState::Complete: break;
    }
    return who;
}

// "40 tokens · 1,234 tok/s": where the speed of this reply came from, at a glance.
QString speedText(const QModelIndex& index) {
    const auto stats = index.data(MessageListModel::StatsRole).value<MessageStats>();
    if (stats.generatedTokens <= 0) return {};
    const QLocale locale;
    return QObject::tr("%1 tokens · %2 tok/s")
        .arg(stats.generatedTokens)
        .arg(locale.toString(stats.decodeTokensPerSecond, 'f', 0));
}

QFont headerFont(const QFont& base) {
    QFont font = base;
    font.setPointSizeF(base.pointSizeF() * 0.85);
    font.setBold(true);
    return font;
}

}  // namespace

MessageDelegate::MessageDelegate(QAbstractItemView* view) : QStyledItemDelegate(view), view_(view) {}

int MessageDelegate::viewWidth() const { return std::max(200, view_->viewport()->width()); }

void MessageDelegate::clearCaches() {
    documents_.clear();
    sizes_.clear();
}

int MessageDelegate::textWidthFor(const QModelIndex& index, int width) const {
    const int bubble = roleOf(index) == MessageRole::User ? static_cast<int>(width * kUserWidthShare)
                                                          : width - 2 * kMargin;
    return std::max(80, bubble - 2 * kPadding);
}

const MessageDelegate::CachedDocument& MessageDelegate::documentFor(const QModelIndex& index, int width) const {
    const qint64 id = index.data(MessageListModel::IdRole).toLongLong();
    const quint64 revision = index.data(MessageListModel::RevisionRole).toULongLong();
    if (CachedDocument* cached = documents_.find(id); cached && cached->revision == revision && cached->width == width) {
        return *cached;
    }
    CachedDocument entry;
    entry.revision = revision;
    entry.width = width;
    const bool markdown = roleOf(index) == MessageRole::Assistant;
    entry.message = buildMessageDocument(index.data(MessageListModel::ContentRole).toString(), markdown,
                                         view_->font(), view_->palette(), textWidthFor(index, width));
    return documents_.insert(id, std::move(entry));
}

MessageDelegate::Geometry MessageDelegate::geometryFor(const QModelIndex& index, int width,
                                                       const CachedDocument& doc) const {
    const QFontMetrics header(headerFont(view_->font()));
    const QTextDocument& text = *doc.message.document;
    const int headerHeight = header.height() + 4;
    const int textHeight = std::max(header.height(), static_cast<int>(std::ceil(text.size().height())));
    int bubbleWidth = width - 2 * kMargin;
    int left = kMargin;
    if (roleOf(index) == MessageRole::User) {
        // Short user messages get a bubble that fits them, on the right.
        const int wanted = static_cast<int>(std::ceil(text.idealWidth())) + 2 * kPadding;
        const int minimum = header.horizontalAdvance(headerText(index)) + 2 * kPadding;
        bubbleWidth = std::clamp(std::max(wanted, minimum), 80, static_cast<int>(width * kUserWidthShare));
        left = width - kMargin - bubbleWidth;
    }
    Geometry g;
    g.bubble = QRect(left, kMargin / 2, bubbleWidth, kPadding + headerHeight + textHeight + kPadding);
    g.header = QRect(left + kPadding, kMargin / 2 + kPadding, bubbleWidth - 2 * kPadding, header.height());
    g.textOrigin = QPoint(left + kPadding, kMargin / 2 + kPadding + headerHeight);
    return g;
}

QSize MessageDelegate::sizeHint(const QStyleOptionViewItem&, const QModelIndex& index) const {
    const int width = viewWidth();
    const qint64 id = index.data(MessageListModel::IdRole).toLongLong();
    const quint64 revision = index.data(MessageListModel::RevisionRole).toULongLong();
    if (CachedSize* cached = sizes_.find(id); cached && cached->revision == revision && cached->width == width) {
        return cached->size;
    }
    const Geometry g = geometryFor(index, width, documentFor(index, width));
    const QSize size(width, g.bubble.bottom() + 1 + kMargin / 2);
    sizes_.insert(id, {revision, width, size});
    return size;
}

MessageDelegate::AlternativeBrowser MessageDelegate::alternativeBrowser(const QModelIndex& index,
                                                                       const Geometry& g) const {
    AlternativeBrowser browser;
    const int count = index.data(MessageListModel::AlternativeCountRole).toInt();
    if (count < 2) return browser;
    const QFontMetrics header(headerFont(view_->font()));
    const QFontMetrics body(view_->font());
    const int buttonWidth = body.horizontalAdvance(QStringLiteral("‹")) + 14;
    const int labelWidth = body.horizontalAdvance(QStringLiteral("%1/%1").arg(count)) + 10;
    const int x = g.header.left() + header.horizontalAdvance(headerText(index)) + 14;
    const int y = g.header.top() - 1;
    const int h = g.header.height() + 2;
    browser.previous = QRect(x, y, buttonWidth, h);
    browser.label = QRect(browser.previous.right() + 1, y, labelWidth, h);
    browser.next = QRect(browser.label.right() + 1, y, buttonWidth, h);
    return browser;
}

QList<QPair<QRect, QString>> MessageDelegate::copyButtons(const Geometry& g, const CachedDocument& doc) const {
    QList<QPair<QRect, QString>> out;
    const QFontMetrics metrics(view_->font());
    const int w = metrics.horizontalAdvance(tr("Copy")) + 12;
    const int h = metrics.height() + 2;
    for (const CodeBlock& code : doc.message.codeBlocks) {
        const QRect block = code.rect.toAlignedRect().translated(g.textOrigin);
        out.append({QRect(block.right() - w - 2, block.top() + 2, w, h), code.text});
    }
    return out;
}

void MessageDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const {
    const int width = viewWidth();
    const CachedDocument& doc = documentFor(index, width);
    const Geometry g = geometryFor(index, width, doc);
    const QPalette& palette = option.palette;
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing);
    painter->translate(option.rect.topLeft());

    QColor fill = roleOf(index) == MessageRole::User ? palette.color(QPalette::Highlight) : palette.color(QPalette::Base);
    if (roleOf(index) == MessageRole::User) fill.setAlpha(40);
    if (stateOf(index) == MessageState::Failed) fill = QColor(255, 80, 80, 40);
    QPainterPath bubble;
    bubble.addRoundedRect(QRectF(g.bubble).adjusted(0.5, 0.5, -0.5, -0.5), kRadius, kRadius);
    painter->fillPath(bubble, fill);
    painter->setPen(palette.color(QPalette::Mid));
    painter->drawPath(bubble);

    painter->setFont(headerFont(option.font));
    painter->setPen(palette.color(QPalette::PlaceholderText));
    painter->drawText(g.header, Qt::AlignLeft | Qt::AlignVCenter, headerText(index));
    if (const QString speed = speedText(index); !speed.isEmpty()) {
        painter->drawText(g.header, Qt::AlignRight | Qt::AlignVCenter, speed);
    }

    painter->save();
    painter->translate(g.textOrigin);
    QAbstractTextDocumentLayout::PaintContext context;
    context.palette = palette;
    context.palette.setColor(QPalette::Text, palette.color(QPalette::Text));
    context.clip = QRectF(QPointF(0, 0), doc.message.document->size());
    doc.message.document->documentLayout()->draw(painter, context);
    painter->restore();

    painter->setFont(option.font);
    if (const AlternativeBrowser browser = alternativeBrowser(index, g); !browser.label.isEmpty()) {
        const int count = index.data(MessageListModel::AlternativeCountRole).toInt();
        const int shown = index.data(MessageListModel::AlternativeIndexRole).toInt();
        painter->setPen(palette.color(QPalette::Mid));
        painter->setBrush(palette.color(QPalette::Button));
        painter->drawRoundedRect(browser.previous, 4, 4);
        painter->drawRoundedRect(browser.next, 4, 4);
        painter->setPen(palette.color(QPalette::ButtonText));
        painter->drawText(browser.previous, Qt::AlignCenter, QStringLiteral("‹"));
        painter->drawText(browser.next, Qt::AlignCenter, QStringLiteral("›"));
        painter->drawText(browser.label, Qt::AlignCenter, QStringLiteral("%1/%2").arg(shown + 1).arg(count));
    }
    for (const auto& [rect, code] : copyButtons(g, doc)) {
        painter->setPen(palette.color(QPalette::Mid));
        painter->setBrush(palette.color(QPalette::Button));
        painter->drawRoundedRect(rect, 4, 4);
        painter->setPen(palette.color(QPalette::ButtonText));
        painter->drawText(rect, Qt::AlignCenter, tr("Copy"));
    }
    painter->restore();
}

QString MessageDelegate::copyButtonCodeAt(const QModelIndex& index, const QRect& itemRect, const QPoint& pos) const {
    const int width = viewWidth();
    const CachedDocument& doc = documentFor(index, width);
    const QPoint local = pos - itemRect.topLeft();
    for (const auto& [rect, code] : copyButtons(geometryFor(index, width, doc), doc)) {
        if (rect.contains(local)) return code;
    }
    return {};
}

int MessageDelegate::alternativeAt(const QModelIndex& index, const QRect& itemRect, const QPoint& pos) const {
    const int width = viewWidth();
    const AlternativeBrowser browser = alternativeBrowser(index, geometryFor(index, width, documentFor(index, width)));
    const QPoint local = pos - itemRect.topLeft();
    const int count = index.data(MessageListModel::AlternativeCountRole).toInt();
    const int shown = index.data(MessageListModel::AlternativeIndexRole).toInt();
    if (browser.previous.contains(local) && shown > 0) return shown - 1;
    if (browser.next.contains(local) && shown + 1 < count) return shown + 1;
    return -1;
}

bool MessageDelegate::editorEvent(QEvent* event, QAbstractItemModel* model, const QStyleOptionViewItem& option,
                                  const QModelIndex& index) {
    if (event->type() == QEvent::MouseButtonRelease) {
        const auto* mouse = static_cast<QMouseEvent*>(event);
        if (mouse->button() == Qt::LeftButton) {
            if (const int alternative = alternativeAt(index, option.rect, mouse->position().toPoint()); alternative >= 0) {
                emit alternativeRequested(index.data(MessageListModel::IdRole).toLongLong(), alternative);
                return true;
            }
            const QString code = copyButtonCodeAt(index, option.rect, mouse->position().toPoint());
            if (!code.isNull()) {
                QApplication::clipboard()->setText(code);
                emit codeCopied(code);
                return true;
            }
        }
    }
    return QStyledItemDelegate::editorEvent(event, model, option, index);
}

bool MessageDelegate::helpEvent(QHelpEvent* event, QAbstractItemView* view, const QStyleOptionViewItem& option,
                                const QModelIndex& index) {
    if (event->type() == QEvent::ToolTip) {
        const QString tip = index.data(Qt::ToolTipRole).toString();
        if (tip.isEmpty()) {
            QToolTip::hideText();
        } else {
            QToolTip::showText(event->globalPos(), tip, view);
        }
        return true;
    }
    return QStyledItemDelegate::helpEvent(event, view, option, index);
}

}  // namespace peregrine::ui

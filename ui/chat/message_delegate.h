// Paints one chat message as a bubble: a header line (who, state, speed, and "‹ 1/3 ›" on a reply with
// alternatives), the rendered Markdown, and a "Copy" button on each code block. Laid-out documents are
// cached per message id (LRU, only what is on screen) and size hints separately (cheap, kept for
// thousands of messages); both are keyed by (id, revision, width), so an update to one message never
// re-lays out the others.
#pragma once

#include <QStyledItemDelegate>

#include <cstdint>

#include "chat/lru_cache.h"
#include "chat/message_document.h"

class QAbstractItemView;

namespace peregrine::ui {

class MessageDelegate : public QStyledItemDelegate {
    Q_OBJECT

public:
    explicit MessageDelegate(QAbstractItemView* view);

    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    bool editorEvent(QEvent* event, QAbstractItemModel* model, const QStyleOptionViewItem& option,
                     const QModelIndex& index) override;
    bool helpEvent(QHelpEvent* event, QAbstractItemView* view, const QStyleOptionViewItem& option,
                   const QModelIndex& index) override;

    // The code block whose Copy button is at `pos` (view viewport coordinates); empty if none.
    QString copyButtonCodeAt(const QModelIndex& index, const QRect& itemRect, const QPoint& pos) const;
    // The alternative a click at `pos` asks for ("‹ 2/3 ›" in a regenerated reply's header); -1 if none.
    int alternativeAt(const QModelIndex& index, const QRect& itemRect, const QPoint& pos) const;
    void clearCaches();
    int cachedDocumentCount() const { return static_cast<int>(documents_.size()); }

signals:
    void codeCopied(const QString& code);
    void alternativeRequested(qint64 messageId, int index);

private:
    struct Geometry {  // in item coordinates
        QRect bubble;
        QRect header;
        QPoint textOrigin;
    };
    struct CachedDocument {
        quint64 revision = 0;
        int width = 0;
        MessageDocument message;
    };
    struct CachedSize {
        quint64 revision = 0;
        int width = 0;
        QSize size;
    };

    const CachedDocument& documentFor(const QModelIndex& index, int viewWidth) const;
    Geometry geometryFor(const QModelIndex& index, int viewWidth, const CachedDocument& doc) const;
    int textWidthFor(const QModelIndex& index, int viewWidth) const;
    QList<QPair<QRect, QString>> copyButtons(const Geometry& geometry, const CachedDocument& doc) const;
    struct AlternativeBrowser {  // in item coordinates; empty rects when the reply has no alternatives
        QRect previous, label, next;
    };
    AlternativeBrowser alternativeBrowser(const QModelIndex& index, const Geometry& geometry) const;
    int viewWidth() const;

    QAbstractItemView* view_;
    mutable LruCache<qint64, CachedDocument> documents_{96};
    mutable LruCache<qint64, CachedSize> sizes_{8192};
};

}  // namespace peregrine::ui

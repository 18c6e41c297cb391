// The rich-text form of one message: assistant text is Markdown (headings, lists, tables, code), user text
// is shown as typed. Code blocks get the fixed-pitch font and a tinted background, and their positions
// are collected so the delegate can put a "Copy" button on each.
#pragma once

#include <QList>
#include <QPalette>
#include <QRectF>
#include <QString>
#include <QTextDocument>

#include <memory>

namespace peregrine::ui {

struct CodeBlock {
    QRectF rect;   // in document coordinates
    QString text;  // the code, lines joined with '\n'
};

struct MessageDocument {
    std::unique_ptr<QTextDocument> document;
    QList<CodeBlock> codeBlocks;
};

MessageDocument buildMessageDocument(const QString& text, bool markdown, const QFont& font,
                                     const QPalette& palette, qreal width);

}  // namespace peregrine::ui

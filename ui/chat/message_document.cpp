#include "chat/message_document.h"

#include <QAbstractTextDocumentLayout>
#include <QFontDatabase>
#include <QTextBlock>
#include <QTextCursor>

namespace peregrine::ui {
namespace {

// Qt's Markdown importer marks every line of a fenced or indented code block with BlockCodeLanguage.
bool isCodeLine(const QTextBlock& block) {
    return block.blockFormat().hasProperty(QTextFormat::BlockCodeLanguage);
}

}  // namespace

MessageDocument buildMessageDocument(const QString& text, bool markdown, const QFont& font,
                                     const QPalette& palette, qreal width) {
    MessageDocument out;
    out.document = std::make_unique<QTextDocument>();
    QTextDocument& doc = *out.document;
    doc.setDefaultFont(font);
    doc.setDocumentMargin(0);
    if (markdown) {
        doc.setMarkdown(text, QTextDocument::MarkdownDialectGitHub);
    } else {
        doc.setPlainText(text);
    }

    const QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    const QColor codeBackground = palette.color(QPalette::AlternateBase).darker(104);
    QTextCursor cursor(&doc);
    for (QTextBlock block = doc.begin(); block.isValid(); block = block.next()) {
        if (!isCodeLine(block)) continue;
        QTextBlockFormat format;
        format.setBackground(codeBackground);
        format.setLeftMargin(6);
        format.setRightMargin(6);
        cursor.setPosition(block.position());
        cursor.mergeBlockFormat(format);
        cursor.setPosition(block.position() + block.length() - 1, QTextCursor::KeepAnchor);
        QTextCharFormat charFormat;
        charFormat.setFont(mono);
        charFormat.setFontFixedPitch(true);
        cursor.mergeCharFormat(charFormat);
    }
    doc.setTextWidth(width);

    // Group consecutive code lines into blocks and measure them after layout.
    QAbstractTextDocumentLayout* layout = doc.documentLayout();
    for (QTextBlock block = doc.begin(); block.isValid(); block = block.next()) {
        if (!isCodeLine(block)) continue;
        CodeBlock code;
        QStringList lines;
        QRectF rect;
        while (block.isValid() && isCodeLine(block)) {
            lines << block.text();
            rect = rect.united(layout->blockBoundingRect(block));
            if (!block.next().isValid() || !isCodeLine(block.next())) break;
            block = block.next();
        }
        code.rect = rect;
        code.text = lines.join('\n');
        out.codeBlocks << code;
    }
    return out;
}

}  // namespace peregrine::ui

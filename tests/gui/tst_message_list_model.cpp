// MessageListModel under QAbstractItemModelTester: rows keyed by id, streamed text changes exactly the
// content roles of exactly one row, revisions only grow, removeFrom drops the tail.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

#include "chat/message_list_model.h"

using namespace peregrine::ui;

namespace {

StoredMessage message(int64_t id, MessageRole role, const QString& content) {
    StoredMessage m;
    m.id = id;
    m.conversationId = 1;
    m.role = role;
    m.content = content;
    return m;
}

}  // namespace

class TestMessageListModel : public QObject {
    Q_OBJECT

private slots:
    void streamingChangesOneRowsContentRoles() {
        MessageListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setMessages({message(10, MessageRole::User, "hi"), message(11, MessageRole::Assistant, "")});
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.rowOf(11), 1);
        const quint64 before = model.index(1).data(MessageListModel::RevisionRole).toULongLong();

        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.appendText(11, "Once ");
        model.appendText(11, "upon");
        model.appendText(99, "nobody");  // unknown id: ignored
        QCOMPARE(changed.size(), 2);
        for (const auto& args : changed) {
            QCOMPARE(args[0].toModelIndex().row(), 1);
            QCOMPARE(args[1].toModelIndex().row(), 1);
            const auto roles = args[2].value<QList<int>>();
            QVERIFY(roles.contains(MessageListModel::ContentRole));
            QVERIFY(roles.contains(MessageListModel::RevisionRole));
            QVERIFY(!roles.contains(MessageListModel::StateRole));
        }
        QCOMPARE(model.index(1).data().toString(), QString("Once upon"));
        QVERIFY(model.index(1).data(MessageListModel::RevisionRole).toULongLong() > before);

        MessageStats stats;
        stats.model = "m.gguf";
        stats.generatedTokens = 2;
        changed.clear();
        model.finish(11, "Once upon", MessageState::Stopped, stats);
        QCOMPARE(changed.size(), 1);
        const auto roles = changed[0][2].value<QList<int>>();
        QVERIFY(roles.contains(MessageListModel::StateRole));
        QVERIFY(!roles.contains(MessageListModel::ContentRole));  // the text did not change
        QCOMPARE(model.index(1).data(MessageListModel::StateRole).toInt(), static_cast<int>(MessageState::Stopped));
        QVERIFY(model.index(1).data(Qt::ToolTipRole).toString().contains("m.gguf"));
    }

    void appendAndRemoveFromKeepIdsConsistent() {
        MessageListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        for (int i = 1; i <= 6; ++i) {
            model.append(message(i, i % 2 ? MessageRole::User : MessageRole::Assistant, QString::number(i)));
        }
        model.removeFrom(4);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.rowOf(4), -1);
        QCOMPARE(model.rowOf(3), 2);
        QCOMPARE(model.last()->id, int64_t(3));
        model.append(message(7, MessageRole::Assistant, "seven"));
        QCOMPARE(model.rowOf(7), 3);
        QCOMPARE(model.find(7)->content, QString("seven"));
        model.removeFrom(1);
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.last(), nullptr);
    }
};

QTEST_MAIN(TestMessageListModel)
#include "tst_message_list_model.moc"

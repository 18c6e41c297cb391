// ChatInput's keys: Enter sends (and not an empty box), Shift+Enter adds a line, Esc asks to stop.
#include <QSignalSpy>
#include <QtTest>

#include "chat/chat_input.h"

using namespace peregrine::ui;

class TestChatInput : public QObject {
    Q_OBJECT

private slots:
    void enterSendsShiftEnterAddsALineEscStops() {
        ChatInput input;
        input.show();
        QVERIFY(QTest::qWaitForWindowExposed(&input));
        QSignalSpy send(&input, &ChatInput::sendRequested);
        QSignalSpy stop(&input, &ChatInput::stopRequested);

        QTest::keyClick(&input, Qt::Key_Return);
        QCOMPARE(send.size(), 0);  // nothing to send

        QTest::keyClicks(&input, "first line");
        QTest::keyClick(&input, Qt::Key_Return, Qt::ShiftModifier);
        QTest::keyClicks(&input, "second line");
        QCOMPARE(input.toPlainText(), QString("first line\nsecond line"));
        QCOMPARE(send.size(), 0);

        QTest::keyClick(&input, Qt::Key_Enter, Qt::KeypadModifier);  // the keypad Enter sends too
        QCOMPARE(send.size(), 1);
        QCOMPARE(send[0][0].toString(), QString("first line\nsecond line"));

        QTest::keyClick(&input, Qt::Key_Escape);
        QCOMPARE(stop.size(), 1);
        QCOMPARE(input.toPlainText(), QString("first line\nsecond line"));  // the panel clears it, not the box
    }

    void growsWithItsText() {
        ChatInput input;
        const int empty = input.sizeHint().height();
        input.setPlainText("1\n2\n3\n4\n5\n6");
        QVERIFY(input.sizeHint().height() > empty);
        input.setPlainText(QString("x\n").repeated(100));
        const int capped = input.sizeHint().height();
        input.setPlainText(QString("x\n").repeated(200));
        QCOMPARE(input.sizeHint().height(), capped);  // at most a few lines tall
    }
};

QTEST_MAIN(TestChatInput)
#include "tst_chat_input.moc"

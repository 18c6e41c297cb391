// The app log: spdlog writes to <XDG_STATE_HOME>/peregrine/logs/peregrine.log with one named logger per
// area, the engine's log callback lands in the same file, and Help has "Open log folder" and an About
// dialog naming the version, backend and device.
#include <QFile>
#include <QMenuBar>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

#include "logging/app_log.h"
#include "logging/ui_log.h"
#include "peregrine/log.h"
#include "store/chat_store.h"
#include "window/about_dialog.h"
#include "window/main_window.h"

using namespace peregrine::ui;

class TestAppLog : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;

private slots:
    void initTestCase() { qputenv("XDG_STATE_HOME", dir_.path().toUtf8()); }

    void writesAreasAndEngineToTheRotatingFile() {
        uiLogger("store")->warn("made before install");  // must not keep the file out of this area
        AppLog::install();
        QCOMPARE(AppLog::folder(), dir_.path() + "/peregrine/logs");
        uiLogger("store")->error("the store said {}", 42);
        peregrine::log_warn("the engine said {}", "hello");
        spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) { logger->flush(); });
        QFile file(AppLog::filePath());
        QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(AppLog::filePath()));
        const QString log = QString::fromUtf8(file.readAll());
        QVERIFY2(log.contains("[store] [error] the store said 42"), qPrintable(log));
        QVERIFY2(log.contains("[engine] [warning] the engine said hello"), qPrintable(log));
        QVERIFY(log.contains("[app] [info] Peregrine starting"));
    }

    void helpMenuAndAboutDialog() {
        MainWindow window(ChatStore::open(dir_.filePath("chats.sqlite")),
                          std::make_unique<QSettings>(dir_.filePath("s.ini"), QSettings::IniFormat));
        QStringList helpActions;
        for (QAction* menu : window.menuBar()->actions()) {
            if (menu->text().contains("Help")) {
                for (QAction* action : menu->menu()->actions()) helpActions << action->text();
            }
        }
        QVERIFY(helpActions.contains("Open &log folder"));
        QVERIFY(helpActions.contains("&About Peregrine"));
        AboutDialog about(nullptr);
        QVERIFY(about.text().contains("Peregrine 0.1.0"));
        QVERIFY(about.text().contains("CPU"));
        QVERIFY(about.text().contains(qVersion()));
        QVERIFY(about.text().contains(AppLog::filePath()));
    }
};

QTEST_MAIN(TestAppLog)
#include "tst_app_log.moc"

// One version everywhere: `peregrine --version` prints the CMake project version, also with no display at
// all (QApplication cannot start there), the same as `peregrine-cli --version` and the About dialog; and
// the app's own options do not collide with Qt's (-v is the version, --verbose has no short form).
#include <QFileInfo>
#include <QProcess>
#include <QtTest>

#include "app_info.h"
#include "support/test_paths.h"
#include "window/about_dialog.h"

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run run(const QString& program, const QStringList& args, const QProcessEnvironment& env) {
    QProcess process;
    process.setProcessEnvironment(env);
    process.start(program, args);
    Run r;
    if (!process.waitForFinished(20000)) {
        process.kill();
        process.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    r.out = QString::fromUtf8(process.readAllStandardOutput());
    r.err = QString::fromUtf8(process.readAllStandardError());
    return r;
}

QString guiPath() {
    return QFileInfo(QString::fromStdString(peregrine::test::cli_path())).absolutePath() + "/peregrine";
}

}  // namespace

class TestAppVersion : public QObject {
    Q_OBJECT

private slots:
    void versionWithoutADisplay() {
        QVERIFY2(QFile::exists(guiPath()), "bin/peregrine is not built: build all targets before this test");
        QProcessEnvironment headless = QProcessEnvironment::systemEnvironment();
        for (const char* var : {"QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"}) headless.remove(var);
        const QString expected = "peregrine " + peregrine::ui::peregrineVersion() + "\n";
        QVERIFY(peregrine::ui::peregrineVersion().contains(QRegularExpression(R"(^\d+\.\d+\.\d+$)")));
        for (const QString& flag : {QString("--version"), QString("-v")}) {
            const Run r = run(guiPath(), {flag}, headless);
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            QCOMPARE(r.out, expected);
        }
        const Run cli = run(QString::fromStdString(peregrine::test::cli_path()), {"--version"}, headless);
        QCOMPARE(cli.exitCode, 0);
        QVERIFY2(cli.out.startsWith("peregrine-cli " + peregrine::ui::peregrineVersion()), qPrintable(cli.out));
        peregrine::ui::AboutDialog about(nullptr);
        QVERIFY(about.text().contains("Peregrine " + peregrine::ui::peregrineVersion()));
    }

    void optionsDoNotCollide() {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("QT_QPA_PLATFORM", "offscreen");
        const Run help = run(guiPath(), {"--help"}, env);
        QCOMPARE(help.exitCode, 0);
        QVERIFY2(!help.err.contains("already having an option"), qPrintable(help.err));
        QVERIFY2(help.out.contains("--verbose"), qPrintable(help.out));
        QVERIFY2(help.out.contains("-v, --version"), qPrintable(help.out));
    }
};

QTEST_MAIN(TestAppVersion)
#include "tst_app_version.moc"

// The Debian package: `cpack -G DEB` in the build tree builds a .deb whose Depends come from the
// binaries, lintian finds no errors, the desktop entry and AppStream metadata validate, the files land
// where the desktop entry says, and installing into a clean root with dpkg --root and removing again
// leaves nothing behind. Also the relocatable tarball (cpack -G TGZ) finds its data next to itself.
//
// The build tree is the parent of this test's bin/ folder, or $PEREGRINE_BUILD_DIR. It must be fully
// built (peregrine-cli, and peregrine with the GUI) before this test runs; ctest after a build does that.
// Tools missing on the machine (lintian, desktop-file-validate, appstreamcli) skip their test and say
// which Debian package provides them.
#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <unistd.h>

namespace {

struct Run {
    int exit_code = -1;
    QString out;
    QString err;
    QString all() const { return out + err; }
};

Run run(const QString& program, const QStringList& args, const QString& workdir = {}, int timeout_ms = 300000) {
    QProcess p;
    if (!workdir.isEmpty()) p.setWorkingDirectory(workdir);
    p.start(program, args);
    Run r;
    if (!p.waitForStarted()) {
        r.err = program + " did not start";
        return r;
    }
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished();
        r.err = program + " timed out";
        return r;
    }
    r.exit_code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

QString tool(const char* name) { return QStandardPaths::findExecutable(name); }

// "Key=value" of the [Desktop Entry] group.
QString desktop_value(const QString& file, const QString& key) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) return {};
    for (const QString& line : QString::fromUtf8(f.readAll()).split('\n')) {
        if (line.startsWith(key + "=")) return line.mid(key.size() + 1).trimmed();
    }
    return {};
}

QString read_text(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

// Regular files and symlinks under `root`, relative to it, skipping `skip_prefix` (dpkg's database).
QStringList files_under(const QString& root, const QString& skip_prefix = {}) {
    QStringList out;
    QDirIterator it(root, QDir::Files | QDir::System | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString rel = QDir(root).relativeFilePath(it.next());
        if (skip_prefix.isEmpty() || !rel.startsWith(skip_prefix)) out << rel;
    }
    out.sort();
    return out;
}

}  // namespace

class TestDebianPackage : public QObject {
    Q_OBJECT

    QString build_dir_;
    QTemporaryDir work_;
    QString deb_;
    QString tree_;  // the .deb's data, extracted
    QString version_;
    bool gui_ = false;

private slots:
    void initTestCase() {
        build_dir_ = qEnvironmentVariable("PEREGRINE_BUILD_DIR", QCoreApplication::applicationDirPath() + "/..");
        build_dir_ = QDir(build_dir_).canonicalPath();
        if (!QFile::exists(build_dir_ + "/CPackConfig.cmake")) {
            QSKIP("no CPackConfig.cmake in the build tree (packaging/packaging.cmake was not included)");
        }
        if (tool("cpack").isEmpty() || tool("dpkg-deb").isEmpty() || tool("dpkg-shlibdeps").isEmpty()) {
            QSKIP("cpack, dpkg-deb or dpkg-shlibdeps missing (packages cmake, dpkg, dpkg-dev)");
        }
        const QString cli = build_dir_ + "/bin/peregrine-cli";
        QVERIFY2(QFile::exists(cli), "bin/peregrine-cli is not built: build all targets before this test");
        gui_ = QFile::exists(build_dir_ + "/bin/peregrine");

        const Run v = run(cli, {"--version"});
        QCOMPARE(v.exit_code, 0);
        const QRegularExpressionMatch m = QRegularExpression(R"(peregrine-cli (\d+\.\d+\.\d+))").match(v.all());
        QVERIFY2(m.hasMatch(), qPrintable(v.all()));
        version_ = m.captured(1);

        QVERIFY(work_.isValid());
        const Run cpack = run(tool("cpack"), {"-G", "DEB", "-B", work_.filePath("deb")}, build_dir_);
        QVERIFY2(cpack.exit_code == 0, qPrintable(cpack.all()));
        const QStringList debs = QDir(work_.filePath("deb")).entryList({"*.deb"}, QDir::Files);
        QCOMPARE(debs.size(), 1);
        deb_ = work_.filePath("deb/" + debs[0]);
        tree_ = work_.filePath("tree");
        const Run x = run(tool("dpkg-deb"), {"-x", deb_, tree_});
        QVERIFY2(x.exit_code == 0, qPrintable(x.all()));
    }

    void controlFieldsComeFromTheBuild() {
        const Run f = run(tool("dpkg-deb"), {"-f", deb_, "Package", "Version", "Architecture", "Depends",
                                             "Recommends", "Maintainer"});
        QCOMPARE(f.exit_code, 0);
        QVERIFY2(f.out.contains("Package: peregrine\n"), qPrintable(f.out));
        QVERIFY2(f.out.contains("Version: " + version_ + "\n"), qPrintable(f.out));  // one version everywhere
        const QString arch = run(tool("dpkg"), {"--print-architecture"}).out.trimmed();
        QVERIFY2(f.out.contains("Architecture: " + arch), qPrintable(f.out));
        const QString depends = f.out.section("Depends: ", 1).section('\n', 0, 0);
        for (const char* package : {"libc6", "libstdc++6", "libcurl4", "libfmt", "libspdlog", "libpcre2-8-0"}) {
            QVERIFY2(depends.contains(package), qPrintable(QString("%1 missing from Depends: %2").arg(package, depends)));
        }
        if (gui_) {
            for (const char* package : {"libqt6widgets6", "libqt6core6", "libsqlite3-0", "qt6-qpa-plugins"}) {
                QVERIFY2(depends.contains(package), qPrintable(QString("%1 missing from Depends: %2").arg(package, depends)));
            }
        }
        QVERIFY2(!depends.contains("cuda", Qt::CaseInsensitive), qPrintable(depends));  // CUDA is only recommended
        QVERIFY2(f.out.contains(QRegularExpression("Maintainer: .+ <.+@.+>")), qPrintable(f.out));
    }

    void lintianFindsNoErrors() {
        if (tool("lintian").isEmpty()) QSKIP("lintian is not installed (apt-get install lintian)");
        const Run l = run(tool("lintian"), {"--tag-display-limit", "0", deb_});
        const QStringList errors = l.out.split('\n').filter(QRegularExpression("^E: "));
        QVERIFY2(errors.isEmpty(), qPrintable(l.all()));
        QVERIFY2(l.exit_code == 0, qPrintable(l.all()));
    }

    void desktopEntryValidates() {
        if (!gui_) QSKIP("built without the desktop app: no desktop entry in the package");
        if (tool("desktop-file-validate").isEmpty()) {
            QSKIP("desktop-file-validate is not installed (apt-get install desktop-file-utils)");
        }
        const Run d = run(tool("desktop-file-validate"), {tree_ + "/usr/share/applications/peregrine.desktop"});
        QVERIFY2(d.exit_code == 0 && !d.all().contains("error:"), qPrintable(d.all()));
    }

    void metainfoValidatesAndCarriesTheVersion() {
        if (!gui_) QSKIP("built without the desktop app: no AppStream metadata in the package");
        const QStringList metainfo = QDir(tree_ + "/usr/share/metainfo").entryList({"*.metainfo.xml"});
        QCOMPARE(metainfo.size(), 1);
        const QString text = read_text(tree_ + "/usr/share/metainfo/" + metainfo[0]);
        QVERIFY2(text.contains(QString("<release version=\"%1\"").arg(version_)), qPrintable(text));
        QVERIFY2(text.contains("<id>" + metainfo[0].chopped(int(strlen(".metainfo.xml"))) + "</id>"), qPrintable(text));
        if (tool("appstreamcli").isEmpty()) QSKIP("appstreamcli is not installed (apt-get install appstream)");
        const Run a = run(tool("appstreamcli"), {"validate", "--no-net", tree_ + "/usr/share/metainfo/" + metainfo[0]});
        QVERIFY2(a.exit_code == 0, qPrintable(a.all()));
        // The tree check also ties the metadata to the installed desktop entry and icon.
        const Run t = run(tool("appstreamcli"), {"validate-tree", "--no-net", tree_});
        QVERIFY2(t.exit_code == 0, qPrintable(t.all()));
    }

    void filesAreWhereTheDesktopEntrySays() {
        if (gui_) {
            const QString desktop = tree_ + "/usr/share/applications/peregrine.desktop";
            const QString exec = desktop_value(desktop, "Exec").section(' ', 0, 0);
            const QString icon = desktop_value(desktop, "Icon");
            QVERIFY(!exec.isEmpty() && !icon.isEmpty());
            // Exec is a bare name, found on PATH: /usr/bin in the package.
            QVERIFY2(!exec.contains('/'), qPrintable(exec));
            const QFileInfo binary(tree_ + "/usr/bin/" + exec);
            QVERIFY2(binary.isFile() && binary.isExecutable(), qPrintable(binary.filePath()));
            QVERIFY(QFile::exists(tree_ + "/usr/share/icons/hicolor/scalable/apps/" + icon + ".svg"));
            const QString mime = desktop_value(desktop, "MimeType").section(';', 0, 0);
            if (!mime.isEmpty()) {
                QVERIFY2(read_text(tree_ + "/usr/share/mime/packages/peregrine.xml").contains("type=\"" + mime + "\""),
                         qPrintable(mime));
            }
            const QStringList metainfo_files = QDir(tree_ + "/usr/share/metainfo").entryList({"*.metainfo.xml"});
            QCOMPARE(metainfo_files.size(), 1);
            const QString metainfo = read_text(tree_ + "/usr/share/metainfo/" + metainfo_files[0]);
            QVERIFY(metainfo.contains("<launchable type=\"desktop-id\">peregrine.desktop</launchable>"));
        }
        QVERIFY(QFileInfo(tree_ + "/usr/bin/peregrine-cli").isExecutable());
        QVERIFY(QFile::exists(tree_ + "/usr/share/doc/peregrine/copyright"));
        QVERIFY(QFile::exists(tree_ + "/usr/share/man/man1/peregrine-cli.1.gz"));
        // The installed program finds its catalogue relative to itself: /usr/bin/../share/peregrine.
        const Run catalog = run(tree_ + "/usr/bin/peregrine-cli", {"pull", "--catalog"});
        QVERIFY2(catalog.exit_code == 0 && catalog.out.contains("qwen2.5-1.5b-instruct"), qPrintable(catalog.all()));
        // Stripped: no symbol table left in the binaries.
        if (!tool("file").isEmpty()) {
            QVERIFY2(run(tool("file"), {tree_ + "/usr/bin/peregrine-cli"}).out.contains(", stripped"), "not stripped");
        }
    }

    void installsIntoACleanRootAndRemovesCleanly() {
        if (tool("dpkg").isEmpty()) QSKIP("dpkg is not available");
        const QString root = work_.filePath("root");
        for (const char* dir : {"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log"}) {
            QVERIFY(QDir().mkpath(root + "/" + dir));
        }
        for (const char* file : {"var/lib/dpkg/status", "var/lib/dpkg/available"}) {
            QFile f(root + "/" + file);
            QVERIFY(f.open(QIODevice::WriteOnly));
        }
        // The libraries are not in the empty root, hence --force-depends; there are no maintainer scripts.
        const QStringList common = {"--root=" + root, "--force-depends", "--force-script-chrootless",
                                    "--log=/dev/null"};
        const Run install = run(tool("dpkg"), common + QStringList{"-i", deb_});
        if (install.exit_code != 0 && ::geteuid() != 0) QSKIP("dpkg --root needs root here");
        QVERIFY2(install.exit_code == 0, qPrintable(install.all()));

        const QStringList installed = files_under(root, "var/");
        QCOMPARE(installed, files_under(tree_));  // exactly the package's files, nothing generated on the side
        QVERIFY(installed.contains("usr/bin/peregrine-cli"));
        if (gui_) {
            const QString exec = desktop_value(root + "/usr/share/applications/peregrine.desktop", "Exec").section(' ', 0, 0);
            QVERIFY(QFileInfo(root + "/usr/bin/" + exec).isExecutable());
        }
        const Run listed = run(tool("dpkg"), {"--root=" + root, "-L", "peregrine"});
        QVERIFY2(listed.out.contains("/usr/bin/peregrine-cli"), qPrintable(listed.all()));

        const Run purge = run(tool("dpkg"), common + QStringList{"--purge", "peregrine"});
        QVERIFY2(purge.exit_code == 0, qPrintable(purge.all()));
        QCOMPARE(files_under(root, "var/"), QStringList{});
        QVERIFY2(!QDir(root + "/usr").exists(), "dpkg left directories under /usr");
        const Run status = run(tool("dpkg"), {"--root=" + root, "-s", "peregrine"});
        QVERIFY(status.exit_code != 0);  // not known any more
    }

    void relocatableTarballFindsItsData() {
        const Run cpack = run(tool("cpack"), {"-G", "TGZ", "-B", work_.filePath("tgz")}, build_dir_);
        QVERIFY2(cpack.exit_code == 0, qPrintable(cpack.all()));
        const QStringList tarballs = QDir(work_.filePath("tgz")).entryList({"*.tar.gz"}, QDir::Files);
        QCOMPARE(tarballs.size(), 1);
        const QString where = work_.filePath("anywhere/else");
        QVERIFY(QDir().mkpath(where));
        const Run untar = run("tar", {"-xzf", work_.filePath("tgz/" + tarballs[0]), "-C", where, "--strip-components=1"});
        QVERIFY2(untar.exit_code == 0, qPrintable(untar.all()));
        QVERIFY(QFileInfo(where + "/bin/peregrine-cli").isExecutable());
        const Run catalog = run(where + "/bin/peregrine-cli", {"pull", "--catalog"});
        QVERIFY2(catalog.exit_code == 0 && catalog.out.contains("qwen2.5-1.5b-instruct"), qPrintable(catalog.all()));
    }
};

QTEST_GUILESS_MAIN(TestDebianPackage)
#include "tst_debian_package.moc"

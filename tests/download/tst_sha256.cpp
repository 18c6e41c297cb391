// The downloader's SHA-256 against the FIPS 180-4 example vectors and against Qt's implementation for
// every length around the 64-byte block and 56-byte padding boundaries.
#include <QCryptographicHash>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include "peregrine/download.h"

class TestSha256 : public QObject {
    Q_OBJECT

private slots:
    void fipsVectors_data() {
        QTest::addColumn<QByteArray>("message");
        QTest::addColumn<QString>("digest");
        QTest::newRow("empty") << QByteArray()
                               << "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        QTest::newRow("abc") << QByteArray("abc")
                             << "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        QTest::newRow("two blocks")
            << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            << "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
        QTest::newRow("a million a") << QByteArray(1000000, 'a')
                                     << "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    }
    void fipsVectors() {
        QFETCH(QByteArray, message);
        QFETCH(QString, digest);
        QCOMPARE(QString::fromStdString(peregrine::sha256_hex(message.toStdString())), digest);
    }

    void matchesQtAtEveryPaddingBoundary() {
        QByteArray data;
        for (int len = 0; len <= 200; ++len) {
            const std::string ours = peregrine::sha256_hex(data.toStdString());
            const QByteArray theirs = QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
            QVERIFY2(ours == theirs.toStdString(), qPrintable(QString("length %1").arg(len)));
            data.append(char(len * 31 + 7));
        }
    }

    void hashesFiles() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("data.bin").toStdString();
        QByteArray data(3 * 1024 * 1024 + 17, '\0');
        for (int i = 0; i < data.size(); ++i) data[i] = char((i * 2654435761u) >> 24);
        std::ofstream(path, std::ios::binary).write(data.constData(), data.size());
        QCOMPARE(QByteArray::fromStdString(peregrine::sha256_hex_of_file(path)),
                 QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex());
        QVERIFY_THROWS_EXCEPTION(peregrine::DownloadError, peregrine::sha256_hex_of_file(dir.filePath("missing").toStdString()));
    }
};

QTEST_GUILESS_MAIN(TestSha256)
#include "tst_sha256.moc"

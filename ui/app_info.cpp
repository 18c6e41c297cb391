#include "app_info.h"

#include <QFile>
#include <QThread>

namespace peregrine::ui {

// Keep in step with project(Peregrine VERSION ...) in the top-level CMakeLists.txt.
QString peregrineVersion() {
#ifdef PEREGRINE_VERSION
    return QStringLiteral(PEREGRINE_VERSION);
#else
    return QStringLiteral("0.1.0");
#endif
}

QString availableBackends() {
#ifdef PEREGRINE_HAVE_CUDA
    return QStringLiteral("CPU, CUDA");
#else
    return QStringLiteral("CPU");
#endif
}

QString cpuDescription() {
    QString name = QStringLiteral("unknown CPU");
    QFile file(QStringLiteral("/proc/cpuinfo"));
    if (file.open(QIODevice::ReadOnly)) {
        for (const QByteArray& line : file.readAll().split('\n')) {
            if (line.startsWith("model name")) {
                name = QString::fromUtf8(line.mid(line.indexOf(':') + 1)).trimmed();
                break;
            }
        }
    }
    return QStringLiteral("%1 (%2 threads)").arg(name).arg(QThread::idealThreadCount());
}

}  // namespace peregrine::ui

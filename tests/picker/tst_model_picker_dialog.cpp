// The picker dialog over the same folder tree: it fills in from the background scan, a broken model
// cannot be loaded and shows why, a good one is returned, and an added folder is remembered and scanned.
#include <QItemSelectionModel>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QtTest>

#include "model_tree.h"
#include "picker/model_list_model.h"
#include "picker/model_picker_dialog.h"

using namespace peregrine::ui;

namespace {

void selectByName(ModelPickerDialog& dialog, const QString& name) {
    QAbstractItemModel* view = dialog.table()->model();
    for (int row = 0; row < view->rowCount(); ++row) {
        if (view->index(row, ModelListModel::Name).data().toString() == name) {
            dialog.table()->selectRow(row);
            return;
        }
    }
    QFAIL(qPrintable("no row named " + name));
}

}  // namespace

class TestModelPickerDialog : public QObject {
    Q_OBJECT

    peregrine::test::ModelTree tree_;

private slots:
    void listsModelsAndLoadsOnlyGoodOnes() {
        QSettings settings(tree_.root() + "/settings.ini", QSettings::IniFormat);
        ModelPickerDialog dialog(settings, 0, nullptr, tree_.home(), tree_.appModels());
        QSignalSpy finished(&dialog, &ModelPickerDialog::scanFinished);
        dialog.show();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 20000);
        QCOMPARE(dialog.model()->rowCount(), 6);  // the user folder is not added yet
        auto* load = dialog.findChild<QPushButton*>();
        for (auto* button : dialog.findChildren<QPushButton*>()) {
            if (button->text() == "Load") load = button;
        }

        selectByName(dialog, "broken");
        QVERIFY(!load->isEnabled());
        QVERIFY2(dialog.statusText().contains("outside the file"), qPrintable(dialog.statusText()));
        const int brokenRow = dialog.model()->rowOfPath(tree_.appModels() + "/broken.gguf");
        QVERIFY(dialog.model()->index(brokenRow, ModelListModel::Memory).data().toString().startsWith("broken"));

        selectByName(dialog, "stories");
        QVERIFY(load->isEnabled());
        const int storiesRow = dialog.model()->rowOfPath(tree_.appModels() + "/stories.gguf");
        QVERIFY(dialog.model()->index(storiesRow, ModelListModel::Memory).data().toString().contains("fits"));
        QTest::mouseClick(load, Qt::LeftButton);
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        QCOMPARE(dialog.selectedPath(), tree_.appModels() + "/stories.gguf");
    }

    void addedFolderIsRememberedAndScanned() {
        QSettings settings(tree_.root() + "/settings2.ini", QSettings::IniFormat);
        {
            ModelPickerDialog dialog(settings, 2048, nullptr, tree_.home(), tree_.appModels());
            QSignalSpy finished(&dialog, &ModelPickerDialog::scanFinished);
            QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 20000);
            dialog.addFolder(tree_.userFolder());
            QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 20000);
            QCOMPARE(dialog.model()->rowCount(), 7);
            const int row = dialog.model()->rowOfPath(tree_.userFolder() + "/handmade.gguf");
            QVERIFY(row >= 0);
            QCOMPARE(dialog.model()->estimateAt(row).contextLength, 2048);  // the chosen context, not 4096
        }
        ModelPickerDialog again(settings, 0, nullptr, tree_.home(), tree_.appModels());
        QSignalSpy finished(&again, &ModelPickerDialog::scanFinished);
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 20000);
        QCOMPARE(again.model()->rowCount(), 7);
        again.removeFolder(tree_.userFolder());
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 20000);
        QCOMPARE(again.model()->rowCount(), 6);
    }
};

QTEST_MAIN(TestModelPickerDialog)
#include "tst_model_picker_dialog.moc"

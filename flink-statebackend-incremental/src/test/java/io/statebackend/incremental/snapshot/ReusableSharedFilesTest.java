package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/** The rules of {@link ReusableSharedFiles}, one by one, on files that exist only as handles. */
class ReusableSharedFilesTest {

    private static final Predicate<StreamStateHandle> ANY = handle -> true;

    private final Map<String, StateFile> restored = files("1.sst", "2.sst");

    @Test
    void restoredFilesAreOfferedWhileStillOnDisk() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        Map<String, StateFile> referred =
                reusable.checkpointTaken(6, false, sizes("1.sst", "3.sst"), ANY);
        assertThat(referred).containsOnlyKeys("1.sst");
        assertThat(referred.get("1.sst")).isSameAs(restored.get("1.sst"));
    }

    @Test
    void newBackendOffersNothingUntilAConfirmation() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(-1, new HashMap<>());
        take(reusable, 1, files("1.sst"));
        assertThat(reusable.reusable()).isEmpty();
        reusable.complete(1);
        assertThat(reusable.reusable()).containsOnlyKeys("1.sst");
    }

    @Test
    void uploadsOfAnUnconfirmedCheckpointAreNotOffered() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        take(reusable, 6, files("3.sst"));
        assertThat(reusable.reusable()).containsOnlyKeys("1.sst", "2.sst");
    }

    @Test
    void fullCheckpointCutsOffEverythingOlderUntilConfirmed() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        Map<String, StateFile> referred =
                reusable.checkpointTaken(6, true, sizes("1.sst", "2.sst"), ANY);
        assertThat(referred).isEmpty();
        Map<String, StateFile> full = files("1.sst", "2.sst");
        reusable.checkpointUploaded(6, full.values());
        // the restored snapshot may be deleted once 6 completes: never offered again
        assertThat(reusable.reusable()).isEmpty();
        take(reusable, 7, files("4.sst"));
        reusable.complete(5);
        assertThat(reusable.reusable()).isEmpty();

        reusable.complete(6);
        // 7 may have subsumed 6 and did not refer to its uploads
        assertThat(reusable.reusable()).isEmpty();
        reusable.complete(7);
        assertThat(reusable.reusable()).containsOnlyKeys("4.sst");
    }

    @Test
    void lateConfirmationOffersOnlyWhatNewerCheckpointsReferTo() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(-1, new HashMap<>());
        take(reusable, 1, files("1.sst"));
        reusable.complete(1);
        Map<String, StateFile> secondUploads = files("2.sst");
        take(reusable, 2, secondUploads);
        // 3 re-uploads 2's file under a new handle
        take(reusable, 3, files("2.sst", "3.sst"));
        reusable.complete(2);

        Map<String, StateFile> offered = reusable.reusable();
        assertThat(offered).containsOnlyKeys("1.sst");
        Map<String, StateFile> referred =
                reusable.checkpointTaken(4, false, sizes("1.sst", "2.sst", "3.sst"), ANY);
        assertThat(referred).containsOnlyKeys("1.sst");
    }

    @Test
    void subsumedLeavesOnlyNewerCandidates() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(-1, new HashMap<>());
        take(reusable, 1, files("1.sst"));
        take(reusable, 2, files("2.sst"));
        reusable.subsumed(1);
        assertThat(reusable.candidateIds()).containsExactly(2L);
        assertThat(reusable.reusable()).containsOnlyKeys("2.sst");
        reusable.subsumed(-1);
        assertThat(reusable.candidateIds()).containsExactly(2L);
    }

    @Test
    void subsumingEverythingKnownOffersNothing() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        reusable.subsumed(9);
        assertThat(reusable.reusable()).isEmpty();
        take(reusable, 10, files("3.sst"));
        assertThat(reusable.reusable()).isEmpty();
        reusable.complete(10);
        assertThat(reusable.reusable()).containsOnlyKeys("3.sst");
    }

    @Test
    void abortedAndFailedCheckpointsStopConstraining() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        take(reusable, 6, files("3.sst"));
        // 7 could not refer to 2.sst, e.g. compacted away
        reusable.checkpointTaken(7, false, sizes("1.sst"), ANY);
        assertThat(reusable.reusable()).containsOnlyKeys("1.sst");
        reusable.aborted(7);
        assertThat(reusable.reusable()).containsOnlyKeys("1.sst", "2.sst");
        reusable.checkpointTaken(8, false, sizes("2.sst"), ANY);
        reusable.checkpointFailed(8);
        assertThat(reusable.candidateIds()).containsExactly(5L, 6L);
        // a confirmed checkpoint is never dropped by an abort
        reusable.aborted(5);
        assertThat(reusable.candidateIds()).containsExactly(5L, 6L);
    }

    @Test
    void notificationsForUnknownIdsChangeNothing() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        take(reusable, 7, files("3.sst"));
        List<Long> before = reusable.candidateIds();
        // 6 was a savepoint
        reusable.complete(6);
        reusable.aborted(6);
        assertThat(reusable.candidateIds()).isEqualTo(before);
    }

    @Test
    void fileOfAnotherSizeOrRefusedByStorageIsNotReferred() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        Map<String, Long> local = sizes("1.sst", "2.sst");
        local.put("2.sst", 99L);
        StreamStateHandle refused = restored.get("1.sst").getHandle();
        assertThat(reusable.checkpointTaken(6, false, local, h -> h != refused)).isEmpty();
    }

    @Test
    void candidatesAreFoldedKeepingCommonFiles() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(0, files("0.sst"));
        for (long id = 1; id <= 3 * ReusableSharedFiles.MAX_CANDIDATES; id++) {
            take(reusable, id, files(id + ".sst"));
            assertThat(reusable.candidateIds())
                    .hasSizeLessThanOrEqualTo(ReusableSharedFiles.MAX_CANDIDATES);
            // every checkpoint referred to 0.sst: it stays offered
            assertThat(reusable.reusable()).containsOnlyKeys("0.sst");
        }
        // a confirmation of an id inside a folded range keeps the folded candidate
        reusable.complete(2);
        assertThat(reusable.reusable()).containsOnlyKeys("0.sst");
        long newest = 3L * ReusableSharedFiles.MAX_CANDIDATES;
        reusable.complete(newest);
        assertThat(reusable.candidateIds()).containsExactly(newest);
        assertThat(reusable.reusable()).containsOnlyKeys("0.sst", newest + ".sst");
    }

    @Test
    void sameIdTakenTwiceOffersOnlyWhatBothAttemptsReferTo() {
        ReusableSharedFiles reusable = new ReusableSharedFiles(5, restored);
        reusable.checkpointTaken(6, false, sizes("1.sst", "2.sst"), ANY);
        reusable.checkpointTaken(6, false, sizes("1.sst"), ANY);
        reusable.checkpointUploaded(6, files("3.sst").values());
        reusable.complete(6);
        assertThat(reusable.reusable()).containsOnlyKeys("1.sst");
    }

    // ------------------------------------------------------------------------

    /** Takes a checkpoint that refers to what is offered and uploads {@code uploads}. */
    private static void take(
            ReusableSharedFiles reusable, long id, Map<String, StateFile> uploads) {
        Map<String, Long> local = new HashMap<>();
        for (StateFile file : reusable.reusable().values()) {
            local.put(file.getName(), file.getSize());
        }
        for (StateFile file : uploads.values()) {
            local.remove(file.getName());
        }
        reusable.checkpointTaken(id, false, local, ANY);
        reusable.checkpointUploaded(id, uploads.values());
    }

    private static Map<String, StateFile> files(String... names) {
        Map<String, StateFile> files = new HashMap<>();
        for (String name : names) {
            files.put(
                    name,
                    new StateFile(
                            name,
                            new ByteStreamStateHandle(UUID.randomUUID().toString(), new byte[10]),
                            10,
                            0));
        }
        return files;
    }

    private static Map<String, Long> sizes(String... names) {
        Map<String, Long> sizes = new HashMap<>();
        for (String name : names) {
            sizes.put(name, 10L);
        }
        return sizes;
    }
}

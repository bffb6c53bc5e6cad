package io.statebackend.incremental.inspect;

import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The inspector on checkpoint directories built by the test, with {@code _metadata} files written
 * by Flink's own serializer and file ages set explicitly: what it reports, the dry run, the
 * deletion, and the guards that refuse to delete.
 */
class InspectorTest {

    /** The time the files were written; the inspector runs two hours later. */
    private static final long WRITTEN = 1_700_000_000_000L;

    private static final long NOW = WRITTEN + Duration.ofHours(2).toMillis();

    private static final OperatorID OPERATOR = new OperatorID(1L, 2L);

    @TempDir Path tempDir;

    private Path job;
    private Path sharedA;
    private Path sharedB;
    private Path orphan;

    private String out;
    private String err;

    /**
     * A job directory with two retained checkpoints: chk-1 refers to shared file A, chk-2 to A and
     * B; a third shared file is referred to by neither.
     */
    @BeforeEach
    void createJobDirectory() throws IOException {
        job = tempDir.resolve("checkpoints").resolve("a1b2c3");
        sharedA = file(job.resolve("shared").resolve("sst-a"), 300);
        sharedB = file(job.resolve("shared").resolve("sst-b"), 200);
        orphan = file(job.resolve("shared").resolve("sst-orphan"), 100);
        Files.createDirectories(job.resolve("taskowned"));
        writeCheckpoint(job.resolve("chk-1"), 1, List.of(sharedA));
        writeCheckpoint(job.resolve("chk-2"), 2, List.of(sharedA, sharedB));
        ageEverything(WRITTEN);
    }

    @Test
    void reportsCheckpointsOperatorsAndWhichFilesAreReferenced() throws Exception {
        assertThat(run("--json", job.toString())).isEqualTo(InspectorMain.OK);

        JsonNode report = new ObjectMapper().readTree(out).get("jobs").get(0);
        assertThat(names(report.get("checkpoints"), "name")).containsExactly("chk-1", "chk-2");
        JsonNode operator = report.get("checkpoints").get(1).get("operators").get(0);
        assertThat(operator.get("operatorId").asText()).isEqualTo(OPERATOR.toHexString());
        assertThat(operator.get("sharedFiles").asInt()).isEqualTo(2);
        // a private file and the meta data file of the handle
        assertThat(operator.get("privateFiles").asInt()).isEqualTo(2);
        assertThat(operator.get("stateSize").asLong()).isEqualTo(300 + 200 + 10 + 20);
        assertThat(operator.get("checkpointedSize").asLong()).isEqualTo(200 + 10 + 20);

        JsonNode shared = report.get("sharedFiles");
        assertThat(shared).hasSize(3);
        for (JsonNode file : shared) {
            String name = file.get("path").asText();
            if (name.endsWith("sst-a")) {
                assertThat(names(file.get("referencedBy"), null)).containsExactly("chk-1", "chk-2");
                assertThat(file.get("firstReferencedBy").asText()).isEqualTo("chk-1");
            } else if (name.endsWith("sst-b")) {
                assertThat(file.get("firstReferencedBy").asText()).isEqualTo("chk-2");
            } else {
                assertThat(file.get("referencedBy")).isEmpty();
            }
        }
        assertThat(names(report.get("unreferencedSharedFiles"), "path"))
                .singleElement()
                .satisfies(path -> assertThat(path).endsWith("/shared/sst-orphan"));
        assertThat(report.get("unreferencedSharedFiles").get(0).get("ageMillis").asLong())
                .isEqualTo(Duration.ofHours(2).toMillis());
    }

    @Test
    void tableNamesTheUnreferencedFiles() {
        assertThat(run(job.toString())).isEqualTo(InspectorMain.OK);
        assertThat(out)
                .contains("retained checkpoints: chk-1, chk-2")
                .contains("Files in shared/: 3 (600 B), referenced 2, unreferenced 1")
                .contains("Unreferenced files in shared/: 1 (100 B)")
                .contains("sst-orphan")
                .contains("Unreferenced files in taskowned/: none");
    }

    @Test
    void dryRunDeletesNothing() {
        assertThat(run("--delete-unreferenced", "--older-than", "1 h", job.toString()))
                .isEqualTo(InspectorMain.OK);
        assertThat(out).contains("dry run, 1 file(s) (100 B) would be deleted");
        assertThat(out).contains("would delete").contains("sst-orphan");
        assertThat(sharedFiles()).containsExactlyInAnyOrder(sharedA, sharedB, orphan);
    }

    @Test
    void deletesOnlyTheUnreferencedFiles() {
        assertThat(run("--delete-unreferenced", "--older-than", "1 h", "--yes", job.toString()))
                .isEqualTo(InspectorMain.OK);
        assertThat(out).contains("1 of 1 file(s) deleted");
        assertThat(sharedFiles()).containsExactlyInAnyOrder(sharedA, sharedB);
        assertThat(job.resolve("chk-1").resolve("_metadata")).exists();
    }

    @Test
    void refusesWhileACheckpointIsYoungerThanTheAge() throws IOException {
        setAge(job.resolve("chk-2").resolve("_metadata"), NOW - Duration.ofMinutes(5).toMillis());
        assertRefused("chk-2 was modified 5 min 00 s ago, less than 1 h 00 min");
    }

    @Test
    void refusesWhileACheckpointWithoutMetadataIsYoung() throws IOException {
        Path inProgress = job.resolve("chk-3");
        file(inProgress.resolve("some-state"), 5);
        setAge(inProgress.resolve("some-state"), NOW - 1000);
        setAge(inProgress, WRITTEN);
        assertRefused("chk-3 was modified 1 s ago");
        assertThat(out).contains("without _metadata (in progress or aborted): chk-3");
    }

    @Test
    void refusesWhileASharedFileIsYoung() throws IOException {
        setAge(sharedB, NOW - 1000);
        assertRefused("1 file(s) in " + job.toUri().getPath());
        assertThat(out).contains("sst-b, 1 s ago");
    }

    @Test
    void unreadableMetadataIsReportedAndRefusesDeletion() throws IOException {
        Path metadata = job.resolve("chk-2").resolve("_metadata");
        Files.write(metadata, "not a checkpoint".getBytes(StandardCharsets.UTF_8));
        setAge(metadata, WRITTEN);

        assertThat(run(job.toString())).isEqualTo(InspectorMain.FAILED);
        assertThat(err)
                .contains("Cannot read the checkpoint meta data")
                .contains(metadata.toString());
        assertThat(out).contains("chk-2 (unreadable)");

        assertRefused("The references of ");
        assertThat(out).contains("are unknown: Cannot read the checkpoint meta data");
    }

    @Test
    void missingDirectoryIsAnErrorNamingIt() {
        Path missing = tempDir.resolve("no-such-job");
        assertThat(run("--delete-unreferenced", "--older-than", "1 h", "--yes", missing.toString()))
                .isEqualTo(InspectorMain.FAILED);
        assertThat(err).contains("No such directory: ").contains(missing.toString());
    }

    @Test
    void directoryWithoutCheckpointsIsAnErrorNamingIt() throws IOException {
        Path empty = Files.createDirectories(tempDir.resolve("empty"));
        assertThat(run(empty.toString())).isEqualTo(InspectorMain.FAILED);
        assertThat(err).contains(empty.toString()).contains("is not a job's checkpoint directory");
    }

    @Test
    void filesReferencedByAGivenSavepointAreKept() throws IOException {
        Path savepoint = tempDir.resolve("savepoints").resolve("savepoint-1");
        writeCheckpoint(savepoint, 7, List.of(orphan));
        ageEverything(WRITTEN);

        assertThat(
                        run(
                                "--savepoint",
                                savepoint.toString(),
                                "--delete-unreferenced",
                                "--older-than",
                                "1 h",
                                "--yes",
                                job.toString()))
                .isEqualTo(InspectorMain.OK);
        assertThat(out).contains("Unreferenced files in shared/: none");
        assertThat(sharedFiles()).containsExactlyInAnyOrder(sharedA, sharedB, orphan);
    }

    @Test
    void inspectingTheParentOfSeveralJobsCountsTheReferencesOfAll() throws IOException {
        // a second job, restored from the first one's checkpoint, refers to the file too
        Path second = tempDir.resolve("checkpoints").resolve("d4e5f6");
        writeCheckpoint(second.resolve("chk-9"), 9, List.of(orphan));
        ageEverything(WRITTEN);

        assertThat(run("--json", tempDir.resolve("checkpoints").toString()))
                .isEqualTo(InspectorMain.OK);
        assertThat(out).contains("d4e5f6/chk-9");
        assertThat(run(job.toString())).isEqualTo(InspectorMain.OK);
        assertThat(out).contains("Unreferenced files in shared/: 1");
        assertThat(
                        run(
                                "--delete-unreferenced",
                                "--older-than",
                                "1 h",
                                "--yes",
                                tempDir.resolve("checkpoints").toString()))
                .isEqualTo(InspectorMain.OK);
        assertThat(sharedFiles()).containsExactlyInAnyOrder(sharedA, sharedB, orphan);
    }

    @Test
    void wrongUsage() {
        assertThat(run("--delete-unreferenced", job.toString())).isEqualTo(InspectorMain.USAGE);
        assertThat(err).contains("--delete-unreferenced needs --older-than");
        assertThat(run("--yes", job.toString())).isEqualTo(InspectorMain.USAGE);
        assertThat(run("--older-than", "soon", job.toString())).isEqualTo(InspectorMain.USAGE);
        assertThat(run()).isEqualTo(InspectorMain.USAGE);
        assertThat(run("--help")).isEqualTo(InspectorMain.OK);
        assertThat(out).contains("first referenced by");
    }

    // ------------------------------------------------------------------------

    private void assertRefused(String reason) {
        assertThat(run("--delete-unreferenced", "--older-than", "1 h", "--yes", job.toString()))
                .isEqualTo(InspectorMain.REFUSED);
        assertThat(err).contains("deletion refused, nothing deleted");
        assertThat(out).contains("REFUSED, nothing deleted").contains(reason);
        assertThat(sharedFiles()).containsExactlyInAnyOrder(sharedA, sharedB, orphan);
    }

    private int run(String... args) {
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int status = InspectorMain.run(args, printer(stdout), printer(stderr), () -> NOW);
        out = stdout.toString(StandardCharsets.UTF_8);
        err = stderr.toString(StandardCharsets.UTF_8);
        return status;
    }

    private static PrintStream printer(OutputStream out) {
        return new PrintStream(out, true, StandardCharsets.UTF_8);
    }

    private List<Path> sharedFiles() {
        try (Stream<Path> files = Files.list(job.resolve("shared"))) {
            List<Path> list = new ArrayList<>();
            files.forEach(list::add);
            return list;
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static List<String> names(JsonNode array, String field) {
        List<String> names = new ArrayList<>();
        for (JsonNode node : array) {
            names.add(field == null ? node.asText() : node.get(field).asText());
        }
        return names;
    }

    private static Path file(Path path, int size) throws IOException {
        Files.createDirectories(path.getParent());
        Files.write(path, new byte[size]);
        return path;
    }

    /**
     * Writes {@code directory/_metadata} of a checkpoint whose one keyed state handle refers to
     * {@code shared}, the last of which it counts as uploaded by itself, and to a private file and
     * a meta data file in {@code directory}.
     */
    private static void writeCheckpoint(Path directory, long checkpointId, List<Path> shared)
            throws IOException {
        List<HandleAndLocalPath> sharedState = new ArrayList<>();
        for (Path file : shared) {
            sharedState.add(HandleAndLocalPath.of(handle(file), file.getFileName() + ".sst"));
        }
        Path privateFile = file(directory.resolve("private-" + checkpointId), 10);
        Path metaFile = file(directory.resolve("meta-" + checkpointId), 20);
        long uploaded = Files.size(shared.get(shared.size() - 1)) + 10 + 20;
        IncrementalRemoteKeyedStateHandle keyed =
                new IncrementalRemoteKeyedStateHandle(
                        UUID.randomUUID(),
                        KeyGroupRange.of(0, 127),
                        checkpointId,
                        sharedState,
                        Collections.singletonList(
                                HandleAndLocalPath.of(handle(privateFile), "MANIFEST-000001")),
                        handle(metaFile),
                        uploaded);
        OperatorState operator = new OperatorState(OPERATOR, 1, 128);
        operator.putState(0, OperatorSubtaskState.builder().setManagedKeyedState(keyed).build());
        CheckpointMetadata metadata =
                new CheckpointMetadata(
                        checkpointId, Collections.singletonList(operator), Collections.emptyList());
        try (DataOutputStream out =
                new DataOutputStream(Files.newOutputStream(directory.resolve("_metadata")))) {
            Checkpoints.storeCheckpointMetadata(metadata, out);
        }
    }

    private static StreamStateHandle handle(Path file) throws IOException {
        return new FileStateHandle(
                new org.apache.flink.core.fs.Path(file.toUri()), Files.size(file));
    }

    private void ageEverything(long time) throws IOException {
        try (Stream<Path> paths = Files.walk(tempDir)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                setAge(path, time);
            }
        }
    }

    private static void setAge(Path path, long modified) throws IOException {
        Files.setLastModifiedTime(path, FileTime.fromMillis(modified));
    }
}

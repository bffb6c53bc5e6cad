package io.statebackend.incremental.inspect;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import javax.annotation.Nullable;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Renders an inspection as JSON, for scripts: sizes in bytes, times in milliseconds since the
 * epoch, ages in milliseconds. Written with the Jackson that Flink's {@code lib/} ships, shaded.
 */
final class JsonReport {

    private static final ObjectMapper MAPPER =
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private JsonReport() {}

    static String render(Inspection inspection, @Nullable Deletion deletion) {
        final ObjectNode root = MAPPER.createObjectNode();
        final long now = inspection.getNow();
        root.put("inspectedAt", now);
        final ArrayNode jobs = root.putArray("jobs");
        for (JobReport job : inspection.getJobs()) {
            final ObjectNode node = jobs.addObject();
            node.put("directory", job.getDirectory().getPath().toString());
            final ArrayNode checkpoints = node.putArray("checkpoints");
            for (CheckpointSummary checkpoint : job.getCheckpoints()) {
                checkpoint(checkpoints.addObject(), checkpoint);
            }
            final ArrayNode incomplete = node.putArray("checkpointsWithoutMetadata");
            for (CheckpointDirectory directory : job.getIncompleteCheckpoints()) {
                incomplete
                        .addObject()
                        .put("name", directory.getName())
                        .put("path", directory.getPath().toString())
                        .put("modified", directory.getNewestModification());
            }
            final ArrayNode shared = node.putArray("sharedFiles");
            for (SharedFileReport file : job.getSharedFiles()) {
                final ObjectNode fileNode = file(shared.addObject(), file.getFile(), now);
                fileNode.put("firstReferencedBy", file.getFirstReferencedBy());
                strings(fileNode.putArray("referencedBy"), file.getReferencedBy());
            }
            files(node.putArray("unreferencedSharedFiles"), job.getUnreferencedSharedFiles(), now);
            files(
                    node.putArray("unreferencedTaskOwnedFiles"),
                    job.getUnreferencedTaskOwnedFiles(),
                    now);
            strings(node.putArray("missingFiles"), job.getMissingFiles());
        }
        final ArrayNode savepoints = root.putArray("savepoints");
        for (CheckpointSummary savepoint : inspection.getSavepoints()) {
            checkpoint(savepoints.addObject(), savepoint);
        }
        if (deletion != null) {
            final ObjectNode node = root.putObject("deletion");
            node.put("olderThanMillis", deletion.getOlderThan().toMillis());
            node.put("dryRun", deletion.isDryRun());
            node.put("refused", deletion.isRefused());
            strings(node.putArray("refusedBecause"), deletion.getRefusedBecause());
            files(node.putArray("candidates"), deletion.getCandidates(), now);
            files(node.putArray("deleted"), deletion.getDeleted(), now);
            final ObjectNode failures = node.putObject("failures");
            for (Map.Entry<String, String> failure : deletion.getFailures().entrySet()) {
                failures.put(failure.getKey(), failure.getValue());
            }
        }
        try {
            return MAPPER.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Cannot write the report as JSON", e);
        }
    }

    private static void checkpoint(ObjectNode node, CheckpointSummary checkpoint) {
        final CheckpointDirectory directory = checkpoint.getDirectory();
        node.put("name", directory.getName());
        node.put("path", directory.getPath().toString());
        node.put("savepoint", directory.isSavepoint());
        node.put("checkpointId", checkpoint.getCheckpointId());
        if (directory.getMetadata() != null) {
            node.put("metadataModified", directory.getMetadata().getModificationTime());
        }
        node.put("readable", checkpoint.isReadable());
        if (!checkpoint.isReadable()) {
            node.put("error", checkpoint.getError());
            return;
        }
        final ArrayNode operators = node.putArray("operators");
        for (OperatorSummary operator : checkpoint.getOperators()) {
            operators
                    .addObject()
                    .put("operatorId", operator.getOperatorId())
                    .put("parallelism", operator.getParallelism())
                    .put("subtasksWithState", operator.getSubtasksWithState())
                    .put("stateSize", operator.getStateSize())
                    .put("checkpointedSize", operator.getCheckpointedSize())
                    .put("sharedFiles", operator.getSharedFiles())
                    .put("privateFiles", operator.getPrivateFiles())
                    .put("inlineHandles", operator.getInlineHandles());
        }
        strings(node.putArray("unknownHandleTypes"), checkpoint.getUnknownHandles());
    }

    private static void files(ArrayNode array, List<StoredFile> files, long now) {
        for (StoredFile file : files) {
            file(array.addObject(), file, now);
        }
    }

    private static ObjectNode file(ObjectNode node, StoredFile file, long now) {
        node.put("path", file.getPath().toString());
        node.put("size", file.getSize());
        node.put("modified", file.getModificationTime());
        if (file.getModificationTime() > 0) {
            node.put("ageMillis", now - file.getModificationTime());
        }
        return node;
    }

    private static void strings(ArrayNode array, Collection<String> values) {
        for (String value : values) {
            array.add(value);
        }
    }
}

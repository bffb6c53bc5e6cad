package io.statebackend.incremental.inspect;

/** Input the inspector cannot work with; the message names the path and what is wrong. */
public final class InspectionException extends Exception {

    private static final long serialVersionUID = 1L;

    InspectionException(String message) {
        super(message);
    }

    InspectionException(String message, Throwable cause) {
        super(message, cause);
    }
}

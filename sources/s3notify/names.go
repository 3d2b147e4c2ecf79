package s3notify

import (
	"fmt"
	"strings"
)

// field is a set of optional detail fields.
type field uint16

const (
	fSize field = 1 << iota
	fETag
	fVersionID
	fSequencer
	fRequestID
	fRequester
	fSourceIP
	fRestoreExpiry
	fSourceStorageClass
	fDestinationAccessTier
)

// The optional fields of each EventBridge S3 event, as EventBridge's event
// reference lists them ("EventBridge event message structure" in the S3
// user guide). A record's other fields are dropped so that patterns see
// exactly what EventBridge would send.
const (
	fieldsCreated          = fSize | fETag | fVersionID | fSequencer | fRequestID | fRequester | fSourceIP
	fieldsDeleted          = fETag | fVersionID | fSequencer | fRequestID | fRequester | fSourceIP
	fieldsRestoreInitiated = fSize | fETag | fVersionID | fRequestID | fRequester | fSourceIP | fSourceStorageClass
	fieldsRestoreCompleted = fSize | fETag | fVersionID | fRequestID | fRequester | fRestoreExpiry | fSourceStorageClass
	fieldsRestoreExpired   = fETag | fVersionID | fRequestID | fRequester
	fieldsClassChanged     = fSize | fETag | fVersionID | fRequestID | fRequester
	fieldsTierChanged      = fSize | fETag | fVersionID | fRequestID | fRequester | fDestinationAccessTier
	fieldsObjectChanged    = fETag | fVersionID | fRequestID | fRequester | fSourceIP // ACL and tags
)

// mapping is how one S3 event name becomes an EventBridge event.
type mapping struct {
	detailType   string
	reason       string // detail.reason: the S3 API (Object Created) or the cause (Object Deleted)
	deletionType string // detail.deletion-type, Object Deleted only
	fields       field
}

// EventBridge's deletion types.
const (
	permanentlyDeleted  = "Permanently Deleted"
	deleteMarkerCreated = "Delete Marker Created"
)

// eventNames maps S3 notification event names, without MinIO's "s3:"
// prefix, to EventBridge's S3 events. Names absent here have no EventBridge
// counterpart and are refused (see unsupported).
var eventNames = map[string]mapping{
	"ObjectCreated:Put":                       {"Object Created", "PutObject", "", fieldsCreated},
	"ObjectCreated:Post":                      {"Object Created", "POST Object", "", fieldsCreated},
	"ObjectCreated:Copy":                      {"Object Created", "CopyObject", "", fieldsCreated},
	"ObjectCreated:CompleteMultipartUpload":   {"Object Created", "CompleteMultipartUpload", "", fieldsCreated},
	"ObjectRemoved:Delete":                    {"Object Deleted", "DeleteObject", permanentlyDeleted, fieldsDeleted},
	"ObjectRemoved:DeleteMarkerCreated":       {"Object Deleted", "DeleteObject", deleteMarkerCreated, fieldsDeleted},
	"LifecycleExpiration:Delete":              {"Object Deleted", "Lifecycle Expiration", permanentlyDeleted, fieldsDeleted},
	"LifecycleExpiration:DeleteMarkerCreated": {"Object Deleted", "Lifecycle Expiration", deleteMarkerCreated, fieldsDeleted},
	"ObjectRestore:Post":                      {"Object Restore Initiated", "", "", fieldsRestoreInitiated},
	"ObjectRestore:Completed":                 {"Object Restore Completed", "", "", fieldsRestoreCompleted},
	"ObjectRestore:Delete":                    {"Object Restore Expired", "", "", fieldsRestoreExpired},
	"LifecycleTransition":                     {"Object Storage Class Changed", "", "", fieldsClassChanged},
	"IntelligentTiering":                      {"Object Access Tier Changed", "", "", fieldsTierChanged},
	"ObjectTagging:Put":                       {"Object Tags Added", "", "", fieldsObjectChanged},
	"ObjectTagging:Delete":                    {"Object Tags Deleted", "", "", fieldsObjectChanged},
	"ObjectAcl:Put":                           {"Object ACL Updated", "", "", fieldsObjectChanged},

	// MinIO's own names for events EventBridge has.
	"ObjectRemoved:DeleteAllVersions": {"Object Deleted", "DeleteObject", permanentlyDeleted, fieldsDeleted},
	"ObjectCreated:PutTagging":        {"Object Tags Added", "", "", fieldsObjectChanged},
	"ObjectCreated:DeleteTagging":     {"Object Tags Deleted", "", "", fieldsObjectChanged},
	"ObjectTransition:Complete":       {"Object Storage Class Changed", "", "", fieldsClassChanged},
}

// unsupported says why an event name is refused and what to do about it.
func unsupported(name string) string {
	n := strings.TrimPrefix(name, "s3:")
	why := "has no EventBridge S3 event"
	switch {
	case strings.HasSuffix(n, ":*"):
		why = "is a wildcard of the notification configuration, not an event"
	case strings.HasPrefix(n, "Replication:"):
		why = "is a replication event; EventBridge delivers none for S3"
	case strings.HasPrefix(n, "ObjectAccessed:"):
		why = "is a MinIO read event; EventBridge delivers none for S3"
	case n == "ObjectCreated:PutRetention" || n == "ObjectCreated:PutLegalHold":
		why = "is a MinIO object-lock change, not an object creation; EventBridge has no such S3 event"
	}
	return fmt.Sprintf("%s %s (routerd maps ObjectCreated, ObjectRemoved, LifecycleExpiration, ObjectRestore, LifecycleTransition, IntelligentTiering, ObjectTagging and ObjectAcl events); leave it out of the bucket's notification configuration", quote(name), why)
}

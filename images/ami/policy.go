package ami

import (
	"github.com/talos-aws/talos-aws/internal/iampolicy"
)

// DeployerPolicy is what the identity running `pulumi up` needs to build
// and find AMIs in region, for docs/extensions.md and for whoever writes the
// deployer's policy: the calls this package makes (a test holds it to
// them) and the KMS use of an encrypted snapshot.
//   - DescribeImages and DescribeSnapshots take no resource-level
//     permissions: "*".
//   - The EBS direct APIs write snapshots (arn:…:ec2:<region>::snapshot/*,
//     the resource of the EBS user guide's write policies).
//   - RegisterImage names the image and the snapshot it uses; CreateTags
//     only as part of RegisterImage (ec2:CreateAction), for the AMI's
//     tags.
//   - The snapshot is encrypted with the account's default EBS key: the
//     EBS user guide ("Permissions to use AWS KMS keys" for the EBS direct
//     APIs) grants these KMS actions on that key; "*" here, narrowed to
//     that key's ARN by whoever knows it.
func DeployerPolicy(region string) iampolicy.Document {
	p := iampolicy.Partition(region)
	snapshots := "arn:" + p + ":ec2:" + region + "::snapshot/*"
	imgs := "arn:" + p + ":ec2:" + region + "::image/*"
	return iampolicy.New(
		iampolicy.Statement{Sid: "FindTalosAMIs", Effect: "Allow", Resource: "*",
			Action: []string{"ec2:DescribeImages", "ec2:DescribeSnapshots"}},
		iampolicy.Statement{Sid: "WriteTalosSnapshots", Effect: "Allow", Resource: snapshots,
			Action: []string{"ebs:CompleteSnapshot", "ebs:PutSnapshotBlock", "ebs:StartSnapshot"}},
		iampolicy.Statement{Sid: "RegisterTalosAMIs", Effect: "Allow", Resource: []string{imgs, snapshots},
			Action: []string{"ec2:RegisterImage"}},
		iampolicy.Statement{Sid: "TagTalosAMIsWhenRegistered", Effect: "Allow", Resource: imgs,
			Action:    []string{"ec2:CreateTags"},
			Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": "RegisterImage"}}},
		iampolicy.Statement{Sid: "EncryptTalosSnapshots", Effect: "Allow", Resource: "*",
			Action: []string{"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
				"kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt*"}},
	)
}

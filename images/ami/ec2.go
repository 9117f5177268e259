package ami

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ec2APIVersion is the EC2 Query API version every SDK speaks.
const ec2APIVersion = "2016-11-15"

// ec2Call makes one EC2 Query API call and decodes its XML answer into out.
func (c *client) ec2Call(ctx context.Context, action string, params url.Values, out any) error {
	params.Set("Action", action)
	params.Set("Version", ec2APIVersion)
	body := []byte(params.Encode())
	return c.retry(ctx, func(ctx context.Context) error {
		req, err := newRequest(ctx, http.MethodPost, c.ec2Endpoint()+"/", body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		resp, err := c.send(ctx, req, sha256Hex(body), "ec2")
		if err != nil {
			return err
		}
		msg, err := readAll(resp)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Errors []struct {
					Code    string `xml:"Code"`
					Message string `xml:"Message"`
				} `xml:"Errors>Error"`
			}
			ae := &apiError{Op: action, Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
			if xml.Unmarshal(msg, &e) == nil && len(e.Errors) > 0 {
				ae.Code, ae.Message = e.Errors[0].Code, e.Errors[0].Message
			}
			return ae
		}
		if out == nil {
			return nil
		}
		if err := xml.Unmarshal(msg, out); err != nil {
			return fmt.Errorf("%s: answer: %w", action, err)
		}
		return nil
	})
}

// image is what DescribeImages says of an AMI.
type image struct {
	ID    string `xml:"imageId"`
	Name  string `xml:"name"`
	State string `xml:"imageState"` // pending | available | invalid | deregistered | transient | failed | error | disabled
}

// findImage is the account's AMI of that name (DescribeImages, owner self,
// filter name): names are unique per account and region.
func (c *client) findImage(ctx context.Context, name string) (image, bool, error) {
	var out struct {
		Images []image `xml:"imagesSet>item"`
	}
	err := c.ec2Call(ctx, "DescribeImages", url.Values{
		"Owner.1":          {"self"},
		"Filter.1.Name":    {"name"},
		"Filter.1.Value.1": {name},
	}, &out)
	if err != nil {
		return image{}, false, err
	}
	for _, im := range out.Images {
		if im.Name == name {
			return im, true, nil
		}
	}
	return image{}, false, nil
}

// snapshotState is DescribeSnapshots' state of one snapshot:
// pending | completed | error | recoverable | recovering; "" when there is
// no such snapshot.
func (c *client) snapshotState(ctx context.Context, id string) (state, progress string, err error) {
	var out struct {
		Snapshots []struct {
			ID       string `xml:"snapshotId"`
			Status   string `xml:"status"`
			Progress string `xml:"progress"`
		} `xml:"snapshotSet>item"`
	}
	err = c.ec2Call(ctx, "DescribeSnapshots", url.Values{"SnapshotId.1": {id}}, &out)
	if ae, ok := err.(*apiError); ok && ae.Code == "InvalidSnapshot.NotFound" {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	for _, s := range out.Snapshots {
		if s.ID == id {
			return s.Status, s.Progress, nil
		}
	}
	return "", "", nil
}

// registration is RegisterImage's parameters.
type registration struct {
	Name, Description, Architecture, SnapshotID string
	Tags                                        map[string]string
}

// registerParams are RegisterImage's parameters exactly as Sidero
// registers its official AMIs (registerReq, hack/cloud-image-uploader/
// aws.go:405-426@v1.13.9): the snapshot as /dev/xvda (virtual name
// "talos", deleted on termination, gp2, 20 GiB), /dev/xvda as root, hvm,
// ENA, UEFI boot, IMDSv2 only, the architecture; plus tags on the AMI.
// Encryption is the snapshot's (an encrypted snapshot makes an encrypted
// root volume); launch permissions stay private (Sidero makes its AMIs
// public, aws.go:437-450; these are the account's own).
func (r registration) params() url.Values {
	v := url.Values{
		"Name":                                         {r.Name},
		"Description":                                  {r.Description},
		"Architecture":                                 {r.Architecture},
		"RootDeviceName":                               {"/dev/xvda"},
		"VirtualizationType":                           {"hvm"},
		"EnaSupport":                                   {"true"},
		"BootMode":                                     {"uefi"},
		"ImdsSupport":                                  {"v2.0"},
		"BlockDeviceMapping.1.DeviceName":              {"/dev/xvda"},
		"BlockDeviceMapping.1.VirtualName":             {"talos"},
		"BlockDeviceMapping.1.Ebs.SnapshotId":          {r.SnapshotID},
		"BlockDeviceMapping.1.Ebs.VolumeSize":          {"20"},
		"BlockDeviceMapping.1.Ebs.VolumeType":          {"gp2"},
		"BlockDeviceMapping.1.Ebs.DeleteOnTermination": {"true"},
	}
	if len(r.Tags) > 0 {
		v.Set("TagSpecification.1.ResourceType", "image")
		keys := make([]string, 0, len(r.Tags))
		for k := range r.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			n := strconv.Itoa(i + 1)
			v.Set("TagSpecification.1.Tag."+n+".Key", k)
			v.Set("TagSpecification.1.Tag."+n+".Value", r.Tags[k])
		}
	}
	return v
}

// errDuplicateName is RegisterImage's answer to a name the account
// already uses: another `up` registered it first.
const errDuplicateName = "InvalidAMIName.Duplicate"

func (c *client) registerImage(ctx context.Context, r registration) (string, error) {
	var out struct {
		ImageID string `xml:"imageId"`
	}
	if err := c.ec2Call(ctx, "RegisterImage", r.params(), &out); err != nil {
		return "", err
	}
	return out.ImageID, nil
}
